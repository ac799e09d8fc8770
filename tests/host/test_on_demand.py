"""Host mode: TensorBoard started on its first request through Jupyter's proxy, by supervisord."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.helpers import Stack, wait_until


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path, "jupyter,tensorboard", {"DEEPDOCKER_ON_DEMAND": "true"})
    try:
        s.wait_healthy()
        yield s
    finally:
        s.stop()


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def open_tensorboard(stack: Stack, timeout: float = 90) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{stack.ports['jupyter']}/tensorboard/"
    req = urllib.request.Request(url, headers={"Authorization": f"token {stack.token()}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def tensorboard_processes(stack: Stack, recursive: bool = True) -> list[psutil.Process]:
    tree = psutil.Process(stack.supervisord_pid).children(recursive=recursive)
    return [p for p in tree if "tensorboard" in args(p) and "entrypoint.wake" not in args(p) and not waiting(p)]


def waiting(p: psutil.Process) -> bool:
    """The on-demand program before its first request: a shell waiting on its FIFO."""
    return args(p).startswith("/bin/sh -c test -e")


def args(p: psutil.Process) -> str:
    """Its command line; "" for one that has ended meanwhile (the waker exits at once, a zombie until reaped)."""
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def test_idle_until_its_first_request_then_supervised(stack):
    report = stack.report()
    tb = report["services"]["tensorboard"]
    assert report["healthy"] is True
    assert tb["state"] == "IDLE" and tb["pid"] != 0, tb
    assert "first request" in tb["probe"]
    assert not listening(stack.ports["tensorboard"])
    assert tensorboard_processes(stack) == []
    assert waiting(psutil.Process(tb["pid"])) and psutil.Process(tb["pid"]).memory_info().rss < 4 << 20
    waiter = tb["pid"]
    assert "IDLE" in stack.health().stdout
    # A script that checks supervisorctl's exit status sees a healthy lab (3 would mean "not running").
    supervisorctl = str(Path(sys.executable).with_name("supervisorctl"))
    out = subprocess.run([supervisorctl, "-c", str(stack.run_dir / "supervisord.conf"), "status"], capture_output=True)
    assert out.returncode == 0 and out.stdout.decode().split()[:2] == ["jupyter", "RUNNING"], out
    assert dict(line.split()[:2] for line in out.stdout.decode().splitlines())["tensorboard"] == "RUNNING"

    # Health is asked all along the first request: it never says anything but healthy.
    reports: list[dict] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            reports.append(stack.report())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        status, page = open_tensorboard(stack)
    finally:
        done.set()
        watcher.join()
    assert status == 200 and b"<tb-webapp>" in page, page[:300]
    assert reports and all(r["healthy"] for r in reports), [r for r in reports if not r["healthy"]][:1]

    # Ready before supervisord calls it RUNNING (startsecs), and healthy all the while.
    tb = wait_until(
        lambda: (s := stack.report()["services"]["tensorboard"])["state"] == "RUNNING" and s,
        10,
        what="TensorBoard RUNNING",
    )
    assert tb["ready"] is True, tb
    # supervisord's child, not the proxy's: one TensorBoard (with its data server), under supervisord.
    assert [p.pid for p in tensorboard_processes(stack, recursive=False)] == [tb["pid"]] == [waiter]
    jupyter = psutil.Process(stack.report()["services"]["jupyter"]["pid"])
    assert not [p for p in jupyter.children(recursive=True) if "tensorboard" in args(p)]
    assert "tensorboard | deepdocker: starting on its first request" in stack.logs()

    # From now on it is like any other daemon: a crash is restarted by supervisord.
    os.kill(tb["pid"], signal.SIGKILL)
    again = wait_until(
        lambda: (s := stack.report()["services"]["tensorboard"])["pid"] not in (0, tb["pid"]) and s["ready"] and s,
        60,
        what="TensorBoard restarted after SIGKILL",
    )
    assert again["state"] == "RUNNING" and again["restarts"] == 1
    assert open_tensorboard(stack)[0] == 200

    # And a stop stops it with the rest, within the stop budget.
    started = time.monotonic()
    assert stack.stop() == 0
    assert time.monotonic() - started < 1.5
    assert not psutil.pid_exists(again["pid"])


def test_only_on_demand_services_have_a_fifo_and_only_their_user_writes_it(stack):
    wake = stack.run_dir / "wake"
    assert wake.stat().st_mode & 0o777 == 0o700
    assert sorted(os.listdir(wake)) == ["tensorboard"]
    assert (wake / "tensorboard").stat().st_mode & 0o777 == 0o600
    jupyter_pid = stack.report()["services"]["jupyter"]["pid"]
    # What arrives on it, whatever it is, only wakes its own service.
    fd = os.open(wake / "tensorboard", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, b"jupyter\nsshd\n" + b"x" * 5000 + b"\n\xff\xfe\n\n")
    finally:
        os.close(fd)
    wait_until(lambda: stack.report()["services"]["tensorboard"]["ready"], 60, what="TensorBoard woken")
    report = stack.report()
    assert report["services"]["jupyter"]["pid"] == jupyter_pid
    assert report["healthy"] is True


def test_every_daemon_at_start_when_asked(tmp_path):
    s = Stack(tmp_path, "jupyter,tensorboard", {"DEEPDOCKER_ON_DEMAND": "false"})
    try:
        report = s.wait_healthy()
        assert report["services"]["tensorboard"]["state"] == "RUNNING"
        assert not (s.run_dir / "wake").exists()
    finally:
        s.stop()
