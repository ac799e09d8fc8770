"""make bench-liveness: what the liveness watchdog costs and how fast it repairs, beside baselines.

1. Idle cost: two stacks (jupyter, tensorboard) side by side for MINUTES, one with liveness on
   and one with DEEPDOCKER_LIVENESS=false; the CPU each supervisord and its daemons used, from
   /proc (target: the watchdog's own share below 0.1% of one core).
2. Repair: SIGSTOP a daemon, time until a new one is ready, beside the same daemon's restart
   after a SIGKILL (its own start under supervision). Target: failures x interval + own start + 0.5 s.
3. No false alarm: MINUTES with 2 x cores busy loops and a kernel computing at 100%; the
   liveness restarts counted at the end (target: none), and the slowest /api answer seen.

Times come from the daemons' ports and /proc; deepdocker-health is read only between phases.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import Stack, table, wait_until

from entrypoint.services import REGISTRY
from healthchecks import probes
from tests.helpers import children, make_kernel_busy

NAMES = ("jupyter", "tensorboard")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def tree_cpu(pid: int) -> float:
    total = 0.0
    for child in [pid, *children(pid)]:
        try:
            total += cpu_seconds(child)
        except OSError:
            pass
    return total


def probe(stack: Stack, name: str) -> bool:
    path = "/api" if name == "jupyter" else "/"
    return probes.http("127.0.0.1", stack.ports[name], path, timeout=1)[0]


def idle(minutes: float) -> list[tuple[str, float, float, str]]:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        on = Stack(Path(a), ",".join(NAMES))
        off = Stack(Path(b), ",".join(NAMES), {"DEEPDOCKER_LIVENESS": "false"})
        try:
            on.wait_healthy()
            off.wait_healthy()
            time.sleep(15)  # past the daemons' own start-up work
            sups = {"on": on.supervisord_pid, "off": off.supervisord_pid}
            before = {k: (cpu_seconds(p), tree_cpu(p)) for k, p in sups.items()}
            t0 = time.monotonic()
            time.sleep(minutes * 60)
            took = time.monotonic() - t0
            after = {k: (cpu_seconds(p), tree_cpu(p)) for k, p in sups.items()}
        finally:
            on.stop()
            off.stop()

    def pct(key: str, i: int) -> float:
        return (after[key][i] - before[key][i]) / took * 100

    return [
        (f"idle supervisord CPU ({minutes:g} min)", pct("on", 0), pct("off", 0), " %"),
        (f"idle supervisord + daemons CPU ({minutes:g} min)", pct("on", 1), pct("off", 1), " %"),
    ]


def repair(rounds: int) -> tuple[list[tuple[str, float, float, str]], list[str]]:
    """Each round on a fresh stack: more than `restarts` hangs within the window would (rightly)
    make the daemon FATAL."""
    rows, notes = [], []
    for name in NAMES:
        live = REGISTRY[name].liveness
        assert live is not None
        stopped, killed = [], []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                s = Stack(Path(tmp), ",".join(NAMES))
                try:
                    s.wait_healthy()
                    for how, times in ((signal.SIGKILL, killed), (signal.SIGSTOP, stopped)):
                        # Answered, and seen by the watchdog (it looks every second until then);
                        # then a hang at a random moment between two of its probes.
                        time.sleep(2 + random.uniform(0, live.interval))
                        pid = s.report()["services"][name]["pid"]
                        t0 = time.monotonic()
                        os.kill(pid, how)
                        wait_until(lambda pid=pid: not os.path.exists(f"/proc/{pid}"), 120, 0.01, "the old one gone")
                        wait_until(lambda name=name, s=s: probe(s, name), 120, 0.01, f"{name} ready")
                        times.append(time.monotonic() - t0)
                finally:
                    s.stop()
        own = sorted(killed)[len(killed) // 2]
        median = sorted(stopped)[len(stopped) // 2]
        target = live.failures * live.interval + own + 0.5
        rows.append((f"{name} ready after SIGSTOP (hang)", median, own, " s"))
        notes.append(
            f"{name}: ready again after SIGSTOP {median:.1f} s, median of {rounds} "
            f"(worst {max(stopped):.1f} s); "
            f"target {live.failures} x {live.interval:g} s + own start {own:.1f} s + 0.5 s = {target:.1f} s; "
            f"baseline column: after SIGKILL (its own start under supervision)"
        )
    return rows, notes


def saturated(minutes: float) -> tuple[list[tuple[str, float, float, str]], list[str]]:
    loops: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        s = Stack(Path(tmp), ",".join(NAMES))
        try:
            s.wait_healthy()
            token = s.logs().split("Jupyter token (generated, shown once): ")[1].split()[0]
            req = urllib.request.Request(f"http://127.0.0.1:{s.ports['jupyter']}/api/kernels", b"{}", method="POST")
            req.add_header("Authorization", f"token {token}")
            urllib.request.urlopen(req, timeout=60).read()
            make_kernel_busy(s)
            loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * os.cpu_count())]
            slowest = 0.0
            deadline = time.monotonic() + minutes * 60
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                probes.http("127.0.0.1", s.ports["jupyter"], "/api", timeout=30)
                slowest = max(slowest, time.monotonic() - t0)
                time.sleep(5)
            report = s.report()["services"]
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
            s.stop()
    restarts = sum(report[n]["liveness_restarts"] for n in NAMES)
    timeout = REGISTRY["jupyter"].liveness.timeout  # type: ignore[union-attr]
    rows = [
        (f"liveness restarts, CPU saturated {minutes:g} min", restarts, 0, "  "),
        ("slowest /api answer under that load", slowest, timeout, " s"),
    ]
    notes = [f"under load: {json.dumps({n: report[n]['restarts'] for n in NAMES})} restarts of any kind"]
    return rows, notes


def main() -> None:
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = idle(minutes)
    repair_rows, notes = repair(rounds)
    load_rows, load_notes = saturated(minutes)
    print(
        table(
            rows + repair_rows + load_rows,
            "liveness: watchdog on vs off (idle), SIGSTOP vs SIGKILL (repair), limits (load)",
        )
    )
    for note in notes + load_notes:
        print(note)


if __name__ == "__main__":
    main()
