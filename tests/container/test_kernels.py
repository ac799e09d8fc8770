"""A kernel's processes die with it, in the real image (entrypoint.kernel_guard): a fork flood under
`--pids-limit` and `--memory` at once, and a Jupyter server killed under its kernel. Processes are
read with `docker top` (ps on the host): it needs no free process slot in the container."""

from __future__ import annotations

import asyncio

from tests.container.tracked import Container, api, docker, execute
from tests.helpers import wait_until

TOKEN = "kernels-token-0123456789"
NB_UID = "1000"
LIMITS = ["--pids-limit", "256", "--memory", "1g", "--memory-swap", "1g"]
# What a flood makes Jupyter and the flood's own processes log.
EXPECTED = (r"Traceback \(most recent call last\)", r"\| \[[EC] \d", r"\bERROR\b")

# Every process forks, every child takes 8 MiB of its own: the pids limit and the memory limit
# are both reached within seconds.
FLOOD = """
import os, time
while True:
    try:
        if os.fork() == 0:
            b = bytearray(8 << 20)
    except (OSError, MemoryError):
        time.sleep(0.001)
"""


def notebook_processes(c: Container) -> list[tuple[int, str]]:
    """(host pid, command) of the notebook user's processes."""
    out = docker("top", c.id, "-eo", "uid,pid,args", timeout=60).stdout.splitlines()[1:]
    return [(int(f[1]), f[2]) for f in (line.split(None, 2) for line in out) if f[0] == NB_UID and len(f) == 3]


def server_pid(c: Container) -> int:
    found = [pid for pid, args in notebook_processes(c) if "jupyter-lab" in args]
    assert len(found) == 1, notebook_processes(c)
    return found[0]


def run(port: int, code: str, until: str = "idle") -> tuple[str, str]:
    status, kernel = api(port, TOKEN, "/api/kernels", {}, "POST")
    assert status == 201, status
    url = f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels"
    return kernel["id"], asyncio.run(execute(url, TOKEN, code, until=until))


def test_a_fork_flood_under_pids_and_memory_limits_is_stopped_and_the_lab_stays(containers):
    c = containers.run(
        env={"SERVICES": "jupyter", "JUPYTER_TOKEN": TOKEN}, ports=[8888], opts=LIMITS, expected=EXPECTED
    )
    c.wait_health("healthy")
    port = c.port(8888)
    server = server_pid(c)
    kernel_id, _ = run(port, FLOOD, until="started")
    # The flood ends within seconds: the guard's pids check or the OOM killer (which takes the
    # kernel's processes first) stops it, and what is left goes with the kernel.
    wait_until(lambda: len(notebook_processes(c)) <= 4, 90, interval=1, what="the flood to be stopped")
    assert server_pid(c) == server, "the Jupyter server was killed or restarted, not the flood"
    done = c.exec("deepdocker-health", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    status, _ = api(port, TOKEN, f"/api/kernels/{kernel_id}", method="DELETE")
    assert status == 204, status
    wait_until(lambda: all("jupyter-lab" in a for _, a in notebook_processes(c)), 30, interval=1,
               what="only the server left")  # fmt: skip
    # The lab goes on: a new kernel runs code.
    _, out = run(port, "print(6 * 7)")
    assert out.strip() == "42"
    c.wait_health("healthy", timeout=60)


def test_a_killed_server_takes_its_kernels_processes_with_it(containers):
    c = containers.run(env={"SERVICES": "jupyter", "JUPYTER_TOKEN": TOKEN}, ports=[8888], expected=EXPECTED)
    c.wait_health("healthy")
    port = c.port(8888)
    # One child in the kernel's group, one in a session of its own.
    code = 'import subprocess as s\ns.Popen(["sleep", "1000"])\ns.Popen(["sleep", "1001"], start_new_session=True)'
    run(port, code)
    sleeps = [pid for pid, args in notebook_processes(c) if args.startswith("sleep 100")]
    assert len(sleeps) == 2, notebook_processes(c)
    server = server_pid(c)
    assert c.exec("pkill", "-KILL", "-f", "jupyter-lab").returncode == 0  # as the OOM killer would
    wait_until(
        lambda: not [p for p, a in notebook_processes(c) if a.startswith("sleep 100") or "ipykernel" in a],
        20, interval=0.5, what="the dead server's kernel and its children to go",
    )  # fmt: skip
    servers = lambda: {p for p, a in notebook_processes(c) if "jupyter-lab" in a}  # noqa: E731
    wait_until(lambda: servers() and server not in servers(), 60, interval=1, what="supervisord to start a new server")
    c.wait_health("healthy", timeout=90)
