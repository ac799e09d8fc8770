"""make bench-stacks: what docker-stacks' start-up options cost a start, beside the image before them.

The time from the container's first process (the entrypoint, PID 1) to its first daemon's spawn
(Jupyter), from the kernel's own start times of both in /proc (clock ticks, 10 ms): validation,
the notebook account (a remap to NB_UID=1010, a rename to NB_USER=alice), files, supervisord's
start. Nothing polls supervisord. Docker's own work and Jupyter's start are left out, so the
difference is deepdocker's alone. Target: a remapped start no more than 0.1 s slower than before
(the remap no longer walks the home folder: the files are the `users` group's).

usage: stacks.py [ROUNDS] [IMAGE] [BASELINE_IMAGE]   (default 5, deepdocker:cpu, deepdocker:before:
`docker tag deepdocker:cpu deepdocker:before` before building the change)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

TOKEN = "bench-stacks-token-0123456789"
CASES = {
    "plain start": [],
    "remapped (NB_UID=1010)": ["--user", "root", "-e", "NB_UID=1010"],
    "renamed (NB_USER=alice)": ["-e", "NB_USER=alice"],
}
# PID 1's start and the oldest jupyter-lab's, in clock ticks since boot (field 22 of /proc/PID/stat).
TICKS = r"""
import os, time
def start(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])
for _ in range(600):
    pids = [p for p in os.listdir("/proc") if p.isdigit() and p != "1"]
    found = []
    for p in pids:
        try:
            argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"jupyter-lab") for a in argv[:2]):
            found.append(int(p))
    if found:
        print((start(min(found)) - start(1)) / os.sysconf("SC_CLK_TCK"))
        break
    time.sleep(0.05)
"""


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=300).stdout.strip()


def one(image: str, options: list[str]) -> float | None:
    cid = docker("run", "-d", "-e", f"JUPYTER_TOKEN={TOKEN}", *options, image)
    try:
        out = ""
        deadline = time.monotonic() + 60
        while not out and time.monotonic() < deadline:
            try:
                out = docker("exec", cid, "/usr/bin/python3", "-c", TICKS)
            except subprocess.CalledProcessError:  # it ended: the image cannot start this way
                return None
        return float(out) if out else None
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    image = sys.argv[2] if len(sys.argv) > 2 else "deepdocker:cpu"
    baseline = sys.argv[3] if len(sys.argv) > 3 else "deepdocker:before"
    if subprocess.run(["docker", "image", "inspect", baseline], capture_output=True).returncode:
        print(f"no {baseline}: tag the image before the change as {baseline} first", file=sys.stderr)
        return 2
    print(f"entrypoint start to Jupyter's spawn, median of {rounds} (s); {image} beside {baseline}")
    print(f"{'start':<26} {'now':>8} {'before':>8} {'diff':>8}")
    worst = 0.0
    for what, options in CASES.items():
        times = {}
        for img in (image, baseline):
            got = [one(img, options) for _ in range(rounds)]
            ok = [t for t in got if t is not None]
            times[img] = statistics.median(ok) if ok else float("nan")
        diff = times[image] - times[baseline]
        if what.startswith("remapped"):
            worst = diff
        note = "  (nan: that image cannot start this way)" if diff != diff else ""
        print(f"{what:<26} {times[image]:>8.3f} {times[baseline]:>8.3f} {diff:>+8.3f}{note}")
    print(f"target: a remapped start at most +0.100 s: {'met' if worst <= 0.1 else 'NOT met'} ({worst:+.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
