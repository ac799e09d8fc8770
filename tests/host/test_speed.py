"""Fails if a supervisor upgrade (or a change here) brings supervisord's 1-second ticks back.

Times come from supervisord's own log (millisecond stamps) and /proc, never from its
XML-RPC socket: a request would wake its loop and hide the very tick under test.
Stock supervisord 4.3.0 shows ~1.0 s for each of these; the limits leave room for noise.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import time
from datetime import datetime

import pytest

from tests.helpers import Stack, children, cmdline, wait_until


def log_times(stack: Stack, pattern: str) -> list[float]:
    """Timestamps (seconds) of supervisord log lines matching `pattern`."""
    stamps = re.findall(rf"^(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}}) \w+ {pattern}", stack.logs(), re.M)
    return [datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f").timestamp() for s in stamps]


@pytest.fixture
def sshd_stack(tmp_path):
    """sshd under deepdocker, healthy; nothing polls supervisord's socket afterwards."""
    s = Stack(tmp_path, "sshd")
    s.wait_healthy()
    yield s
    s.stop()


def test_first_spawn_without_waiting_for_a_tick(tmp_path):
    s = Stack(tmp_path, "sshd")
    try:
        # The log file, not deepdocker-health: a request would wake supervisord early.
        wait_until(lambda: log_times(s, "spawned: 'sshd'"), 10, 0.01, "sshd spawned")
        (started,) = log_times(s, "supervisord started with pid")
        (spawned,) = log_times(s, "spawned: 'sshd'")
        assert spawned - started < 0.2
    finally:
        s.stop()


def sshd_pid(stack: Stack, exclude: int = 0) -> int | None:
    return next((p for p in children(stack.supervisord_pid) if p != exclude and "sshd" in cmdline(p)), None)


def test_respawn_after_sigkill_without_waiting_for_a_tick(sshd_stack):
    delays = []
    for _ in range(3):
        old = sshd_pid(sshd_stack)
        time.sleep(1.2)  # past startsecs: a kill of a RUNNING daemon, not a failed start
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        wait_until(lambda old=old: sshd_pid(sshd_stack, exclude=old), 5, 0.002, "sshd respawn")
        delays.append(time.monotonic() - t0)
    assert statistics.median(delays) < 0.3, delays


def test_stop_is_quick_and_by_sigterm(tmp_path):
    s = Stack(tmp_path, "jupyter,tensorboard,sshd")
    s.wait_healthy()
    # A health call wakes supervisord's loop, which then sleeps a full second: stock
    # supervisord would notice the SIGTERM only at the end of that second.
    assert s.health().returncode == 0
    sent = time.time()
    t0 = time.monotonic()
    assert s.stop() == 0
    took = time.monotonic() - t0
    assert took < 1.5, f"stop took {took:.2f} s"
    (noticed,) = log_times(s, "received SIGTERM")
    assert noticed - sent < 0.3, f"SIGTERM handled {noticed - sent:.2f} s after it was sent"
    for name in ("jupyter", "tensorboard", "sshd"):
        assert log_times(s, f"stopped: {name} "), name
    assert "with SIGKILL" not in s.logs()
