"""Shared test helpers: free ports, polling, and a host-mode stack run for real."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from entrypoint.services import REGISTRY
from entrypoint.settings import find_program

# The environment under test (make test's .venv), named explicitly: never the caller's PATH.
BIN = Path(sys.executable).parent
ENTRYPOINT = str(BIN / "deepdocker-entrypoint")
HEALTH = str(BIN / "deepdocker-health")
# The operating system's own programs (sshd, ssh-keygen, getent, ...), and nothing installed by hand.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TEST_PATH = f"{BIN}:{SYSTEM_PATH}"


def daemon_argv(command: str) -> list[str]:
    """A rendered program's command as the daemon's own argv: an on-demand program's waiter
    (entrypoint.render.WAITER and its FIFO) left off."""
    from entrypoint.render import WAITER

    argv, waiter = shlex.split(command), shlex.split(WAITER)
    return argv[len(waiter) + 1 :] if argv[: len(waiter)] == waiter else argv


def require_service(name: str, why: str) -> None:
    """For a test module of a service whose program make venv installs where it can: skip, saying
    `why`, when it is not there; in CI, where it must be, fail."""
    if find_program(REGISTRY[name], TEST_PATH):
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the {name} tests, but {why}")
    pytest.skip(why, allow_module_level=True)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A whole environment built here: the venv's daemons and the OS, a HOME of the test's own."""
    return {"PATH": TEST_PATH, "HOME": str(home), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", **extra}


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (never through supervisord's socket)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Stack:
    """deepdocker-entrypoint started for real in host mode, on free loopback ports."""

    def __init__(
        self,
        tmp: Path,
        services: str,
        extra_env: dict[str, str] | None = None,
        args=(),
        preexec=None,
        stdin: int = subprocess.DEVNULL,
    ):
        self.tmp = tmp
        self.run_dir = tmp / "run"
        # A free port for every registry service, through its own port variable.
        self.ports = dict(zip(REGISTRY, free_ports(len(REGISTRY)), strict=True))
        notebooks = tmp / "notebooks"
        notebooks.mkdir(exist_ok=True)
        home = tmp / "home"
        home.mkdir(exist_ok=True)
        self.env = {
            **clean_env(home),
            "SERVICES": services,
            "DEEPDOCKER_RUN_DIR": str(self.run_dir),
            "DEEPDOCKER_BIND": "127.0.0.1",
            **{REGISTRY[name].port_var: str(port) for name, port in self.ports.items()},
            "NOTEBOOK_DIR": str(notebooks),
            # Every daemon up at start, so each test sees them all; tests/host/test_on_demand.py
            # covers TensorBoard's default, a start on its first request.
            "DEEPDOCKER_ON_DEMAND": "false",
            **(extra_env or {}),
        }
        self.stdout_path = tmp / "stdout.log"
        self.stderr_path = tmp / "stderr.log"
        self.proc = subprocess.Popen(
            [ENTRYPOINT, *args],
            env=self.env,
            stdout=self.stdout_path.open("wb"),
            stderr=self.stderr_path.open("wb"),
            stdin=stdin,
            preexec_fn=preexec,
        )

    def health(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([HEALTH, *args], env=self.env, capture_output=True, text=True, timeout=120)

    def report(self) -> dict:
        return json.loads(self.health("--json").stdout)

    def wait_healthy(self, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            result = self.health("--wait", "2", "--json")
            if result.returncode == 0:
                return json.loads(result.stdout)
            if self.proc.poll() is not None or time.monotonic() > deadline:
                status = self.proc.poll()
                raise AssertionError(
                    f"not healthy (entrypoint status {status}):\n{result.stdout}{result.stderr}{self.logs()}"
                )

    def token(self) -> str:
        """The Jupyter token the entrypoint generated and showed once."""
        match = re.search(r"Jupyter token \(generated, shown once\): (\w+)", self.logs())
        assert match, self.logs()
        return match.group(1)

    @property
    def supervisord_pid(self) -> int:
        return int((self.run_dir / "supervisord.pid").read_text())

    def logs(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


_BUSY = """
import sys, jupyter_client
kc = jupyter_client.BlockingKernelClient()
kc.load_connection_file(sys.argv[1])
kc.start_channels()
kc.wait_for_ready(timeout=60)
kc.execute("while True: pass")
while kc.get_iopub_msg(timeout=60)["msg_type"] != "execute_input":
    pass
"""


def make_kernel_busy(stack: Stack) -> None:
    """Set the stack's (one) Jupyter kernel computing at 100% CPU, for good."""
    connection = wait_until(lambda: list((stack.run_dir / "jupyter" / "runtime").glob("kernel-*.json")), 60)
    subprocess.run([sys.executable, "-c", _BUSY, str(connection[0])], check=True, timeout=120)
