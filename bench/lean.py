"""make bench-lean: a default container (jupyter,tensorboard) at rest, beside how it was.

Three ways to run the same image, in the same run:
  on demand   the default: TensorBoard waits for its first request, from its own environment
  at start    DEEPDOCKER_ON_DEMAND=false: TensorBoard up at start, still the lean one
  before      DEEPDOCKER_ON_DEMAND=false, the lean environment hidden (an empty tmpfs over it):
              TensorBoard from the user's environment, which imports TensorFlow (the old default)

1. Idle memory, ten seconds after healthy: the container's cgroup (what `docker stats` shows)
   and the sum of its processes' RSS. Target: on demand <= 150 MiB.
2. The first /tensorboard/ request through Jupyter (on demand), from sending it to the page,
   beside TensorBoard's own start time in the same image: launch to its port answering, timed
   inside the container. Target: own start + 0.5 s.
3. N containers (default 8) started at once: time until every one is healthy (deepdocker-health
   --wait inside each, run right after `docker run`), beside one container alone; and their
   memory together. Target: all within 2x one container's time.

Needs the Docker engine and deepdocker:cpu (`make image`). usage: lean.py [ROUNDS] [N]
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

IMAGE = "deepdocker:cpu"
TOKEN = "bench-lean-token-0123456789"
LEAN_ENV = "/opt/deepdocker/tensorboard"
MODES = {
    "on demand": [],
    "at start": ["-e", "DEEPDOCKER_ON_DEMAND=false"],
    "before": ["-e", "DEEPDOCKER_ON_DEMAND=false", "--tmpfs", LEAN_ENV],
}

# Inside the container: TensorBoard's own start, launch to its port answering (no proxy, no supervisord).
OWN_START = f"""
import socket, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(["{LEAN_ENV}/bin/tensorboard", "--logdir=/tmp/tb", "--port=7007", "--host=127.0.0.1"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while socket.socket().connect_ex(("127.0.0.1", 7007)):
    time.sleep(0.005)
print(time.monotonic() - t0)
p.terminate()
"""


def docker(*args: str, timeout: float = 300) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=timeout).stdout


def start(mode: str) -> str:
    return docker("run", "-d", "-p", "127.0.0.1::8888", "-e", f"JUPYTER_TOKEN={TOKEN}", *MODES[mode], IMAGE).strip()


def wait_healthy(cid: str) -> None:
    docker("exec", cid, "deepdocker-health", "--wait", "300")


def remove(*cids: str) -> None:
    if cids:
        subprocess.run(["docker", "rm", "-f", *cids], capture_output=True, check=False)


def memory(cid: str) -> tuple[float, float]:
    """(cgroup MiB as docker stats shows it, sum of the processes' RSS in MiB)."""
    usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", cid).split("/")[0].strip()
    number, unit = re.fullmatch(r"([\d.]+)\s*([KMG]i?B)", usage).groups()  # type: ignore[union-attr]
    cgroup = float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]
    rss = sum(int(x) for x in docker("exec", cid, "ps", "-eo", "rss=").split()) / 1024
    return cgroup, rss


def idle_memory(mode: str) -> tuple[float, float]:
    cid = start(mode)
    try:
        wait_healthy(cid)
        time.sleep(10)
        return memory(cid)
    finally:
        remove(cid)


def first_request(rounds: int) -> tuple[float, float]:
    """Medians: (first /tensorboard/ request through Jupyter, TensorBoard's own start)."""
    firsts, owns = [], []
    for _ in range(rounds):
        cid = start("on demand")
        try:
            wait_healthy(cid)
            port = docker("port", cid, "8888/tcp").split()[0].rsplit(":", 1)[1]
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/tensorboard/", headers={"Authorization": f"token {TOKEN}"}
            )
            t0 = time.monotonic()
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()
            firsts.append(time.monotonic() - t0)
            owns.append(float(docker("exec", "-u", "jovyan", cid, "python", "-c", OWN_START).split()[-1]))
        finally:
            remove(cid)
    return statistics.median(firsts), statistics.median(owns)


def all_at_once(mode: str, n: int) -> tuple[float, float]:
    """(seconds until all n are healthy, their memory together in MiB, cgroups)."""
    cids: list[str] = [""] * n
    t0 = time.monotonic()

    def one(i: int) -> None:
        cids[i] = start(mode)
        wait_healthy(cids[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        if not all(cids):
            raise RuntimeError(f"{mode}: not every container started")
        time.sleep(10)
        return took, sum(memory(c)[0] for c in cids)
    finally:
        remove(*[c for c in cids if c])


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    try:
        docker("image", "inspect", IMAGE)
    except (subprocess.CalledProcessError, FileNotFoundError):
        print(f"bench-lean: needs the Docker engine and {IMAGE} (make image)")
        sys.exit(2)
    frameworks = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", IMAGE)).get(
        "io.deepdocker.frameworks", "?"
    )
    print(f"{IMAGE} (frameworks: {frameworks}); {rounds} rounds, medians; ratio = deepdocker / baseline")

    print("\n1. Idle memory of a default container, 10 s after healthy (MiB)")
    print(f"{'mode':<12} {'cgroup':>8} {'sum RSS':>8}")
    idle = {}
    for mode in MODES:
        samples = [idle_memory(mode) for _ in range(rounds)]
        idle[mode] = (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))
        print(f"{mode:<12} {idle[mode][0]:>8.1f} {idle[mode][1]:>8.1f}")
    print(f"on demand / before: {idle['on demand'][0] / idle['before'][0]:.2f} (target: on demand <= 150 MiB)")

    print("\n2. First /tensorboard/ request through Jupyter (on demand) vs TensorBoard's own start (s)")
    first, own = first_request(rounds)
    print(f"first request {first:.3f}   own start {own:.3f}   difference {first - own:+.3f} (target: <= +0.5)")

    print(f"\n3. {n} default containers started at once, beside one alone (s; memory MiB, cgroups)")
    print(f"{'mode':<12} {'one':>7} {f'{n} at once':>10} {'ratio':>6} {f'{n} memory':>10}")
    for mode in ("on demand", "before"):
        one = statistics.median(all_at_once(mode, 1)[0] for _ in range(rounds))
        together, mem = all_at_once(mode, n)
        print(f"{mode:<12} {one:>7.2f} {together:>10.2f} {together / one:>6.2f} {mem:>10.1f}")
    print("target: on demand, all within 2x one container's time")


if __name__ == "__main__":
    main()
