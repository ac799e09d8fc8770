"""The liveness watchdog's judgement, against a real socket that answers, then hangs.

The daemon here is a small HTTP server this test runs and can freeze (it keeps accepting
connections and stops answering them, as a SIGSTOPped or deadlocked daemon does); the
process it stands for is a plain object with the two attributes the watchdog reads.
"""

from __future__ import annotations

import socket
import threading
import time
from types import SimpleNamespace

import pytest
from supervisor.states import ProcessStates

from deepdocker_supervisor.watchdog import Check, RestartBudget, Watchdog
from entrypoint.core.model import Liveness
from entrypoint.services import REGISTRY
from tests.helpers import wait_until

FAST = Liveness(interval=0.2, failures=3, grace=1.5, restarts=2, window=5.0, timeout=0.2, kill_after=0.1)


class Daemon:
    """Answers HTTP GETs with 200 until frozen; then accepts and says nothing."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.frozen = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.frozen.is_set():
                self.held.append(conn)
                continue
            conn.recv(1024)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
            conn.close()


@pytest.fixture
def daemon():
    d = Daemon()
    yield d
    d.sock.close()


def watch(daemon: Daemon, process, live: Liveness = FAST) -> Watchdog:
    check = Check("svc", "http", "127.0.0.1", daemon.port, "/", live)
    wakes = []
    dog = Watchdog([check], lambda name: process, lambda: wakes.append(1))
    dog.wakes = wakes  # type: ignore[attr-defined]
    dog.start()
    return dog


def test_a_daemon_that_stops_answering_gets_one_verdict(daemon):
    process = SimpleNamespace(pid=4242, state=ProcessStates.RUNNING)
    dog = watch(daemon, process)
    try:
        wait_until(lambda: dog.watches["svc"].ready, 5, what="the first answer")
        time.sleep(1.0)
        assert dog.verdicts.empty(), "an answering daemon was judged hung"
        daemon.frozen.set()
        verdict = dog.verdicts.get(timeout=5)
        assert (verdict.name, verdict.pid) == ("svc", 4242)
        assert "timed out" in verdict.reason and "3 probes in a row" in verdict.reason
        assert dog.wakes  # supervisord's loop was woken for it
        # Nothing more about the same process: the next verdict needs a new one that answered.
        time.sleep(1.5)
        assert dog.verdicts.empty()
    finally:
        dog.stop()


def test_a_daemon_that_never_answered_is_starting_until_its_grace_ends(daemon):
    daemon.frozen.set()
    dog = watch(daemon, SimpleNamespace(pid=4242, state=ProcessStates.RUNNING))
    try:
        start = time.monotonic()
        verdict = dog.verdicts.get(timeout=10)
        # Not before its grace (1.5 s), then the usual failures in a row.
        assert time.monotonic() - start >= FAST.grace and verdict.pid == 4242
    finally:
        dog.stop()


def test_a_new_process_starts_the_count_over(daemon):
    process = SimpleNamespace(pid=1, state=ProcessStates.RUNNING)
    dog = watch(daemon, process)
    try:
        wait_until(lambda: dog.watches["svc"].ready, 5, what="the first answer")
        daemon.frozen.set()
        wait_until(lambda: dog.watches["svc"].fails >= 1, 5, what="a failed probe")
        process.pid = 2  # restarted by someone else meanwhile
        daemon.frozen.clear()
        dog.poke()
        wait_until(lambda: dog.watches["svc"].pid == 2 and dog.watches["svc"].ready, 5, what="the new process")
        assert dog.watches["svc"].fails == 0 and dog.verdicts.empty()
    finally:
        dog.stop()


def test_only_running_processes_are_probed(daemon):
    daemon.frozen.set()
    process = SimpleNamespace(pid=4242, state=ProcessStates.STOPPING)
    dog = watch(daemon, process)
    try:
        time.sleep(1.0)
        assert not dog.watches["svc"].ready and dog.watches["svc"].fails == 0
    finally:
        dog.stop()


def test_the_restart_budget_gives_up_past_its_count_within_the_window():
    budget = RestartBudget(FAST)  # 2 restarts within 5 s
    assert [budget.spend(t) for t in (0.0, 1.0)] == [False, False]
    assert budget.spend(2.0) is True  # the third within the window: FATAL
    assert budget.spend(100.0) is False  # long after: the window has emptied
    assert budget.total == 4


def test_the_registry_gives_every_http_daemon_a_liveness_and_sshd_none():
    for name, service in REGISTRY.items():
        live = service.liveness
        if service.probe.kind == "http":
            assert live and live.timeout < live.interval and live.failures >= 2, name
        else:
            assert live is None, name  # a listening socket says nothing about a hung sshd
