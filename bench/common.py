"""Helpers shared by the benchmarks: exact per-child CPU/RSS, stacks, tables, docker runs."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import Stack, free_ports, wait_until

__all__ = ["Stack", "docker", "free_ports", "measure_call", "start_to_healthy", "table", "wait_until"]


# A child's ru_maxrss starts at its parent's high-water mark when it execs, so calls are
# launched from this small interpreter (~8 MiB) rather than from the benchmark itself.
TRAMPOLINE = """
import os, sys
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, ru = os.wait4(pid, 0)
print((ru.ru_utime + ru.ru_stime) * 1000, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
"""


def measure_call(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run argv once: (CPU ms, peak RSS MiB, exit status), from wait4's rusage of that child."""
    out = subprocess.run(
        ["/usr/bin/python3", "-I", "-S", "-c", TRAMPOLINE, *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=True,
    ).stdout.split()[-3:]
    return float(out[0]), float(out[1]), int(out[2])


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(rows: list[tuple[str, float, float, str]], title: str) -> str:
    """rows: (what, deepdocker, baseline, unit)."""
    out = [title, f"{'measure':<34} {'deepdocker':>12} {'baseline':>12} {'ratio':>7}"]
    for what, ours, base, unit in rows:
        ratio = f"{ours / base:.2f}" if base else "-"
        digits = 3 if unit.strip() in ("s", "%") else 1
        out.append(f"{what:<34} {ours:>10.{digits}f}{unit:>2} {base:>10.{digits}f}{unit:>2} {ratio:>7}")
    return "\n".join(out)


def docker(*args: str, timeout: float = 900) -> str:
    """`docker ARGS`: its stdout, stripped; a failure raises."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=timeout).stdout.strip()


def start_to_healthy(image: str, *options: str, wait: int = 600) -> float:
    """Seconds from `docker run -d OPTIONS IMAGE` to deepdocker-health's green; the container is removed."""
    t = time.perf_counter()
    cid = docker("run", "-d", *options, image)
    try:
        docker("exec", cid, "deepdocker-health", "--wait", str(wait))
        return time.perf_counter() - t
    finally:
        docker("rm", "-f", cid)
