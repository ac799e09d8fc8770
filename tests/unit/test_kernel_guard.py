"""The kernel guard (entrypoint.kernel_guard) with stand-in kernels: a few lines of Python that
start children (one of them in a session of its own), fork, or wait for SIGINT. Started as
jupyter_client starts a kernel: in a new session, from a parent that may die."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from entrypoint import kernel_guard
from tests.helpers import wait_until

# A kernel that starts one child in its group and one that escapes it (setsid), writes their pids
# and its own oom_score_adj to FILE, then sleeps SECONDS and exits with status 7.
KERNEL = """
import os, subprocess, sys, time
a = subprocess.Popen(["sleep", "300"])
b = subprocess.Popen(["sleep", "301"], start_new_session=True)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {a.pid} {b.pid} {open('/proc/self/oom_score_adj').read().strip()}")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(float(sys.argv[2]))
sys.exit(7)
"""


def guard_cmd(*kernel: str, pids: Path | None = None) -> list[str]:
    code = "import sys; from pathlib import Path; from entrypoint import kernel_guard as g; "
    code += f"sys.exit(g.guard(sys.argv[1:], {str(pids)!r} and Path({str(pids)!r})))"
    return [sys.executable, "-c", code, *kernel]


def kernel_file(tmp_path: Path, seconds: float) -> tuple[list[str], Path]:
    script = tmp_path / "kernel.py"
    script.write_text(KERNEL)
    out = tmp_path / "pids"
    return [sys.executable, str(script), str(out), str(seconds)], out


def read_pids(out: Path) -> tuple[list[int], str]:
    wait_until(out.exists, 30, what="the stand-in kernel's pids")
    *pids, oom = out.read_text().split()
    return [int(p) for p in pids], oom


def gone(pids: list[int]) -> bool:
    def dead(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    return all(dead(p) for p in pids)


def test_a_kernel_that_exits_takes_its_processes_with_it_and_keeps_its_status(tmp_path):
    kernel, out = kernel_file(tmp_path, 1)
    guard = subprocess.Popen(guard_cmd(*kernel), start_new_session=True, cwd=tmp_path)
    pids, oom = read_pids(out)
    assert guard.wait(30) == 7
    wait_until(lambda: gone(pids), 5, what="the kernel's children, the escaped one too")
    # The OOM killer's first pick in the container: the kernel, not the server or the control plane.
    assert oom == "1000"


def test_a_dead_server_takes_its_kernels_with_it(tmp_path):
    kernel, out = kernel_file(tmp_path, 300)
    # The "server": starts the guard as jupyter_client does, then is killed (SIGKILL, as the OOM killer does).
    server = subprocess.Popen([
        sys.executable, "-c",
        "import subprocess, sys, time; subprocess.Popen(sys.argv[1:], start_new_session=True); time.sleep(300)",
        *guard_cmd(*kernel),
    ], cwd=tmp_path, stderr=subprocess.PIPE)  # fmt: skip
    pids, _ = read_pids(out)
    guard = psutil.Process(pids[0]).parent()
    assert guard is not None and guard.parent().pid == server.pid
    # Its log goes with it (supervisord closes the pipe): the guard's line has nowhere to go.
    assert server.stderr is not None
    server.stderr.close()
    server.kill()
    server.wait()
    wait_until(lambda: gone([guard.pid, *pids]), 10, what="the orphaned kernel, its children and its guard")


def test_an_interrupt_reaches_the_kernel_and_the_guard_stays(tmp_path):
    ready = tmp_path / "ready"
    code = textwrap.dedent(f"""
        import time, sys
        open({str(ready)!r}, "w").close()
        try:
            time.sleep(300)
        except KeyboardInterrupt:
            sys.exit(3)
    """)
    guard = subprocess.Popen(guard_cmd(sys.executable, "-c", code), start_new_session=True)
    wait_until(ready.exists, 30, what="the kernel")
    os.killpg(guard.pid, signal.SIGINT)  # jupyter_client's interrupt
    assert guard.wait(30) == 3


def test_a_stop_reaches_the_kernel_then_its_leftovers_are_killed(tmp_path):
    kernel, out = kernel_file(tmp_path, 300)
    guard = subprocess.Popen(guard_cmd(*kernel), start_new_session=True, cwd=tmp_path)
    pids, _ = read_pids(out)
    guard.send_signal(signal.SIGTERM)  # only the guard: it passes it on
    assert guard.wait(30) == 128 + signal.SIGTERM  # the kernel's end, not the guard's own death
    wait_until(lambda: gone(pids), 5, what="the kernel and its children")


# 20 children that sleep (a bounded stand-in for a flood: only the kernel forks).
SPAWNER = """
import os, time
for _ in range(20):
    if os.fork() == 0:
        time.sleep(300)
        os._exit(0)
    time.sleep(0.02)
time.sleep(300)
"""


def test_a_fork_flood_near_the_pids_limit_is_stopped_with_one_line(tmp_path):
    # A stand-in cgroup: its pids.current says the container is near its limit.
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "pids.max").write_text("64\n")
    (cgroup / "pids.current").write_text("10\n")
    guard = subprocess.Popen(
        guard_cmd(sys.executable, "-c", SPAWNER, pids=cgroup),
        start_new_session=True, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def spawned():
        found = psutil.Process(guard.pid).children(recursive=True)
        return found if len(found) > 20 else None  # the kernel and its 20

    flood = wait_until(spawned, 30, what="the flood")
    time.sleep(1)
    assert guard.poll() is None, "stopped while the container was far from its limit"
    (cgroup / "pids.current").write_text("60\n")
    assert guard.wait(30) == 1
    stderr = guard.stderr.read()
    assert stderr.count("\n") == 1, stderr
    assert "near its limit of 64 (--pids-limit): its processes are stopped" in stderr
    wait_until(lambda: gone([p.pid for p in flood]), 5, what="the flood's processes")


def test_pids_limit_reads_the_containers_cgroup(tmp_path):
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    for d in (v2, v1):
        d.mkdir()
    (v2 / "pids.max").write_text("max\n")
    (v2 / "pids.current").write_text("3\n")
    assert kernel_guard.pids_limit((v2,)) is None
    (v1 / "pids.max").write_text("512\n")
    (v1 / "pids.current").write_text("3\n")
    assert kernel_guard.pids_limit((v2, v1)) == v1
    assert kernel_guard.pids_limit((tmp_path / "none",)) is None


def test_too_many_needs_both_the_container_near_its_limit_and_a_big_share(tmp_path):
    (tmp_path / "pids.max").write_text("100\n")
    (tmp_path / "pids.current").write_text("89\n")
    assert kernel_guard.too_many(tmp_path, mine=90) is None  # the container is not near its limit
    (tmp_path / "pids.current").write_text("90\n")
    assert kernel_guard.too_many(tmp_path, mine=24) is None  # another program's processes
    assert kernel_guard.too_many(tmp_path, mine=25) == (25, 100)
    assert kernel_guard.too_many(None, mine=1000) is None


@pytest.mark.parametrize("argv", [[], ["--"]])
def test_no_kernel_is_a_usage_line(argv, capsys):
    assert kernel_guard.main(argv) == 2
    assert capsys.readouterr().err.startswith("usage: python -m entrypoint.kernel_guard")


def test_a_kernel_that_cannot_start_says_so(tmp_path):
    done = subprocess.run(guard_cmd(str(tmp_path / "no-such-kernel")), capture_output=True, text=True, timeout=30)
    assert done.returncode == 127
    assert "deepdocker: cannot start the kernel" in done.stderr
