"""make bench-hub: deepdocker spawned by a real JupyterHub (configurable-http-proxy, DockerSpawner,
examples/jupyterhub/docker) beside the floor: the same Hub spawning the same image running a bare
jupyterhub-singleuser, with no supervisord, no entrypoint and no HEALTHCHECK.

1. One user: seconds from the spawn request (POST /hub/api/users/NAME/server, as the spawn button
   does) until the Hub calls the server ready, and the container's memory 10 s later (its cgroup, as
   `docker stats` shows it). Medians of ROUNDS.
2. N users at once (N=8): seconds until all are ready, and the memory per user server.

Targets (issue 10): hub mode adds at most 0.3 s to a spawn and 30 MiB per user over the floor; N at
once are all ready within 3x one user's time.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import docker as docker_sdk

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.container import hubs

IMAGE = "deepdocker:cpu"
FLOOR = """
c.DockerSpawner.cmd = ["/opt/venv/bin/jupyterhub-singleuser"]
c.DockerSpawner.extra_create_kwargs = {"entrypoint": ["/usr/bin/env"], "user": "1000:100",
                                       "working_dir": "/home/jovyan", "healthcheck": {"test": ["NONE"]}}
"""
MODES = {"deepdocker": "", "floor": FLOOR}


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=300).stdout


def memory(cid: str) -> float:
    usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", cid).split("/")[0].strip()
    number, unit = re.fullmatch(r"([\d.]+)\s*([KMG]i?B)", usage).groups()  # type: ignore[union-attr]
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def cpu_seconds(cid: str) -> float:
    """CPU the container has used so far (its cgroup: v1 cpuacct, or v2), 0 where neither is found."""
    try:
        return int(Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage").read_text()) / 1e9
    except OSError:
        pass
    try:
        stat = Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat").read_text().split()
        return int(stat[stat.index("usage_usec") + 1]) / 1e6
    except (OSError, ValueError):
        return 0.0


def watch_server(hub: hubs.Hub, name: str, start: float, answered: dict[str, float], cpu: dict[str, float]) -> None:
    """When the user's Jupyter first answers on the container network, asked every 20 ms: the
    server's own readiness, without the Hub's polling (exponential backoff with jitter) on top."""
    engine = docker_sdk.from_env()
    deadline = start + 300
    url, cid = None, ""
    while time.monotonic() < deadline:
        if url is None:
            found = engine.containers.list(filters={"name": f"{hub.prefix}-{name}"})
            address = found[0].attrs["NetworkSettings"]["IPAddress"] if found else ""
            url = f"http://{address}:8888/user/{name}/api" if address else None
            cid = found[0].id if found else ""
        if url and answers(url):
            answered[name] = time.monotonic() - start
            cpu[name] = cpu_seconds(cid)
            return
        time.sleep(0.02)


def spawn_all(hub: hubs.Hub, names: list[str]) -> tuple[float, float, float]:
    """Seconds from the first spawn request until every server is ready as the Hub says, until
    every one answers (the requests go at once), and the CPU seconds a server used until it answered."""
    ready: dict[str, float] = {}
    answered: dict[str, float] = {}
    cpu: dict[str, float] = {}
    start = time.monotonic()
    threads = [threading.Thread(target=hub.spawn, args=(n,)) for n in names]
    threads += [threading.Thread(target=watch_server, args=(hub, n, start, answered, cpu)) for n in names]
    for t in threads:
        t.start()
    deadline = start + 300
    while len(ready) < len(names):
        for n in names:
            if n not in ready:
                server = hub.server(n)
                if server and server.get("ready"):
                    ready[n] = time.monotonic() - start
        if time.monotonic() > deadline:
            raise SystemExit(f"bench-hub: not ready after 300 s: {sorted(set(names) - set(ready))}\n"
                             + hub.log.read_text()[-3000:])  # fmt: skip
        time.sleep(0.02)
    for t in threads:
        t.join()
    return max(ready.values()), max(answered.values()), statistics.mean(cpu.values())


def round_of(mode: str, names: list[str]) -> tuple[float, float, float, float]:
    """(seconds until all ready as the Hub says, until all answer, MiB per user server 10 s later,
    CPU seconds per server until it answered)."""
    env = {"DEEPDOCKER_IMAGE": IMAGE}
    with tempfile.TemporaryDirectory() as folder, hubs.running(Path(folder), "docker", MODES[mode], env, names) as hub:
        took, answered, cpu = spawn_all(hub, names)
        time.sleep(10)
        cids = docker("ps", "-q", "-f", f"name={hub.prefix}-").split()
        assert len(cids) == len(names), cids
        per_user = statistics.mean(memory(c) for c in cids)
        for n in names:
            hub.stop(n)
    return took, answered, per_user, cpu


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    problem = hubs.proxy_problem()
    if problem or subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        print(f"bench-hub: needs the Docker engine, {IMAGE} (make image) and JupyterHub's proxy: {problem or ''}")
        sys.exit(2)
    # The Hub logs to a file per round: its output here would bury the figures.
    sys.stderr = open("/dev/null", "w")  # noqa: SIM115
    print(f"{IMAGE}, JupyterHub + DockerSpawner on this engine; {rounds} rounds, medians")
    one: dict[str, tuple[float, ...]] = {}
    for mode in MODES:
        samples = [round_of(mode, ["alice"]) for _ in range(rounds)]
        one[mode] = tuple(statistics.median(s[i] for s in samples) for i in range(4))
    many = {mode: round_of(mode, [f"user{i}" for i in range(n)]) for mode in MODES}

    def row(what: str, ours: float, floor: float, target: str = "", digits: int = 3) -> None:
        print(f"{what:<36} {ours:>11.{digits}f} {floor:>9.{digits}f} {ours - floor:>+11.{digits}f} {target:>8}")

    print(f"\n{'':<36} {'deepdocker':>11} {'floor':>9} {'difference':>11} {'target':>8}")
    (ds, da, dm, dc), (fs, fa, fm, fc) = one["deepdocker"], one["floor"]
    row("1 user: spawn to ready, Hub (s)", ds, fs, "<= +0.3")
    row("1 user: spawn to Jupyter answers (s)", da, fa, "<= +0.3")
    row("1 user: idle memory (MiB)", dm, fm, "<= +30", 1)
    row("1 user: CPU until it answers (s)", dc, fc)
    (dt, dta, dmem, _), (ft, fta, fmem, _) = many["deepdocker"], many["floor"]
    row(f"{n} at once: all ready, Hub (s)", dt, ft)
    row(f"{n} at once: all answer (s)", dta, fta)
    row(f"{n} at once: memory per user (MiB)", dmem, fmem, "", 1)
    print(f"{f'{n} at once / 1 user (Hub)':<36} {dt / ds:>11.2f} {ft / fs:>9.2f} {'':>11} {'<= 3':>8}")
    print(f"{f'{n} at once / 1 user (answers)':<36} {dta / da:>11.2f} {fta / fa:>9.2f} {'':>11} {'<= 3':>8}")
    cores = os.cpu_count() or 1
    print(
        f"\n{n} starts need {n} x {dc:.2f} s of CPU (floor {fc:.2f} s) on {cores} cores: at least "
        f"{n * dc / cores:.1f} s ({n * dc / cores / da:.1f}x one user's {da:.2f} s) before Docker's own work."
    )
    print("The Hub polls a starting server with an exponential backoff with jitter: its 'ready' comes")
    print("up to a second or two after the server answers; 'answers' asks the container itself every 20 ms.")


if __name__ == "__main__":
    main()
