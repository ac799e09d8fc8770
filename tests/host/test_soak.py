"""Soak: SIGKILLs at random moments, every daemon back and healthy, no zombies or strays,
supervisord responsive and its memory flat. DEEPDOCKER_SOAK_KILLS sets the kills per daemon."""

from __future__ import annotations

import os
import random
import signal
import time

import psutil
import pytest

from entrypoint.services import REGISTRY
from tests.helpers import Stack, children, cmdline, wait_until

SERVICES = {"jupyter": "jupyter-lab", "tensorboard": "tensorboard", "sshd": "sshd"}
KILLS = int(os.environ.get("DEEPDOCKER_SOAK_KILLS", "50"))


def pid_of(sup: int, program: str, exclude: int = 0) -> int | None:
    return next((p for p in children(sup) if p != exclude and program in cmdline(p)), None)


def lasting_zombies(sup: psutil.Process) -> list[psutil.Process]:
    """Zombies among supervisord's descendants that are still unreaped a second later: a child
    that died a moment ago is a zombie until supervisord's next tick reaps it, which is no leak."""

    def zombies() -> set[tuple[int, float]]:
        found = set()
        for p in sup.children(recursive=True):
            try:
                if p.status() == psutil.STATUS_ZOMBIE:
                    found.add((p.pid, p.create_time()))
            except psutil.NoSuchProcess:
                continue
        return found

    first = zombies()
    if not first:
        return []
    time.sleep(1.5)
    return [psutil.Process(pid) for pid, _ in first & zombies()]


@pytest.mark.slow
def test_soak_sigkill_at_random_moments(tmp_path):
    rng = random.Random(20261128)
    s = Stack(tmp_path, ",".join(SERVICES))
    try:
        s.wait_healthy()
        sup = psutil.Process(s.supervisord_pid)
        rss = []
        for round_ in range(KILLS):
            # Each daemon dies at its own random moment, after startsecs (1 s): a kill while
            # STARTING is a failed start to supervisord, which backs off and gives up.
            plan = sorted((rng.uniform(1.1, 2.5), name) for name in SERVICES)
            t0 = time.monotonic()
            for at, name in plan:
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                old = pid_of(sup.pid, SERVICES[name])
                assert old, f"{name} is not running (round {round_})"
                os.kill(old, signal.SIGKILL)
                wait_until(lambda n=name, o=old: pid_of(sup.pid, SERVICES[n], exclude=o), 5, 0.01, f"{name} back")
            if round_ % 10 == 9:
                report = s.wait_healthy(60)  # supervisord answers, all daemons ready again
                assert all(v["state"] == "RUNNING" for v in report["services"].values())
                rss.append(sup.memory_info().rss)
        report = s.wait_healthy(60)
        assert all(v["restarts"] == KILLS for v in report["services"].values()), report
        assert not lasting_zombies(sup)
        strays = [p for p in psutil.process_iter(["ppid"]) if p.info["ppid"] == 1 and str(s.run_dir) in cmdline(p.pid)]
        assert not strays
        if len(rss) >= 2:
            assert rss[-1] - rss[0] < 4 * 1024 * 1024, f"supervisord grew from {rss[0]} to {rss[-1]} bytes"
    finally:
        assert s.stop() == 0


@pytest.mark.slow
def test_a_daemon_that_keeps_hanging_goes_fatal_after_its_restart_budget(tmp_path):
    live = REGISTRY["tensorboard"].liveness
    assert live is not None
    s = Stack(tmp_path, "tensorboard", {"DEEPDOCKER_ON_FATAL": "stay"})
    try:
        s.wait_healthy()
        for n in range(1, live.restarts + 2):
            pid = s.report()["services"]["tensorboard"]["pid"]
            time.sleep(2)  # the watchdog looks every second until its first answer
            os.kill(pid, signal.SIGSTOP)
            budget = live.failures * live.interval + live.timeout + 20

            def judged(pid=pid, n=n):
                r = s.report()["services"]["tensorboard"]
                if n <= live.restarts:
                    return r["ready"] and r["pid"] != pid and r
                return r["state"] == "FATAL" and r

            report = wait_until(judged, budget, 0.5, what=f"liveness restart {n}")
            assert report["liveness_restarts"] == n
        assert "liveness restarts within 600 s: stopping it for good (FATAL)" in s.logs()
        assert s.proc.poll() is None, "DEEPDOCKER_ON_FATAL=stay: the rest stays up"
    finally:
        assert s.stop() == 0
