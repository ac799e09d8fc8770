"""Soak: SIGKILLs at random moments, every daemon back and healthy, no zombies or strays,
supervisord responsive and its memory flat. DEEPDOCKER_SOAK_KILLS sets the kills per daemon."""

from __future__ import annotations

import os
import random
import signal
import time

import psutil
import pytest

from tests.helpers import Stack, children, cmdline, wait_until

SERVICES = {"jupyter": "jupyter-lab", "tensorboard": "tensorboard", "sshd": "sshd"}
KILLS = int(os.environ.get("DEEPDOCKER_SOAK_KILLS", "50"))


def pid_of(sup: int, program: str, exclude: int = 0) -> int | None:
    return next((p for p in children(sup) if p != exclude and program in cmdline(p)), None)


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
        zombies = [p for p in sup.children(recursive=True) if p.status() == psutil.STATUS_ZOMBIE]
        assert not zombies
        strays = [p for p in psutil.process_iter(["ppid"]) if p.info["ppid"] == 1 and str(s.run_dir) in cmdline(p.pid)]
        assert not strays
        if len(rss) >= 2:
            assert rss[-1] - rss[0] < 4 * 1024 * 1024, f"supervisord grew from {rss[0]} to {rss[-1]} bytes"
    finally:
        assert s.stop() == 0
