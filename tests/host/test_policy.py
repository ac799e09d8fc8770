"""A daemon that keeps crashing: bounded backoff, FATAL, then DEEPDOCKER_ON_FATAL decides."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import pytest

from tests.helpers import Stack, wait_until


@pytest.fixture
def taken_port():
    """A port something else already listens on: Jupyter exits 1 a second into each start."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s.getsockname()[1]
    s.close()


def test_crash_loop_goes_fatal_and_stays_up_unhealthy(tmp_path, taken_port):
    s = Stack(tmp_path, "jupyter,sshd", {"JUPYTER_PORT": str(taken_port), "DEEPDOCKER_ON_FATAL": "stay"})
    try:
        wait_until(lambda: s.report()["services"].get("jupyter", {}).get("state") == "FATAL", 90, 0.5, "jupyter FATAL")
        assert s.proc.poll() is None, "the stack must stay up with DEEPDOCKER_ON_FATAL=stay"
        result = s.health("--json")
        assert result.returncode == 1
        report = json.loads(result.stdout)
        jupyter = report["services"]["jupyter"]
        assert not report["healthy"] and not jupyter["ready"]
        # startretries=3: the first start and three retries, then FATAL.
        assert jupyter["restarts"] == 3
        assert any("already in use" in line for line in jupyter["last_lines"]), jupyter["last_lines"]
        assert report["services"]["sshd"]["state"] == "RUNNING"
        table = s.health().stdout
        assert "FATAL" in table and "jupyter: last output:" in table
    finally:
        assert s.stop() == 0


def test_crash_loop_with_exit_policy_stops_everything_with_status_1(tmp_path, taken_port):
    s = Stack(tmp_path, "jupyter,sshd", {"JUPYTER_PORT": str(taken_port), "DEEPDOCKER_ON_FATAL": "exit"})
    ends_everything(s, "jupyter is FATAL; DEEPDOCKER_ON_FATAL=exit")


def ends_everything(s: Stack, why: str) -> None:
    """The stack exits 1 by itself, saying why, with sshd stopped on the way."""
    try:
        assert s.proc.wait(90) == 1
    finally:
        s.stop()
    logs = s.logs()
    assert why in logs and "stopped: sshd" in logs, logs[-3000:]


def test_exit_policy_in_command_mode_ends_the_command_too(tmp_path, taken_port):
    env = {"JUPYTER_PORT": str(taken_port), "DEEPDOCKER_ON_FATAL": "exit"}
    s = Stack(tmp_path, "jupyter", env, args=("sleep", "300"))
    try:
        assert s.proc.wait(90) == 1
    finally:
        s.stop()
    assert "jupyter is FATAL; DEEPDOCKER_ON_FATAL=exit" in s.logs()


def test_a_supervisord_killed_again_and_again_is_given_up(tmp_path):
    s = Stack(tmp_path, "sshd", args=("sleep", "300"))
    try:
        for _ in range(3):
            s.wait_healthy()
            os.kill(s.supervisord_pid, signal.SIGKILL)
            time.sleep(0.5)
        assert s.proc.wait(30) == 1
    finally:
        s.stop()
    assert "times within seconds: giving up" in s.logs()


def test_in_hub_mode_the_container_lives_for_jupyter_whatever_on_fatal_says(tmp_path):
    # The Hub only polls whether the container runs: a FATAL Jupyter under a live supervisord would
    # look alive to it forever. A notebook folder that is not there: it exits 1 at once, each start.
    hub = {
        "JUPYTERHUB_API_TOKEN": "hub-token-0123456789abcdef",
        "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
        "JUPYTERHUB_USER": "alice",
        "DEEPDOCKER_ON_FATAL": "stay",
    }
    args = ("jupyterhub-singleuser", f"--ServerApp.root_dir={tmp_path}/not-there")
    s = Stack(tmp_path, "jupyter,sshd", hub, args=args)
    ends_everything(s, "jupyter is FATAL and the container lives for it: stopping everything, exit status 1")


def test_liveness_looks_at_jupyter_alone_and_readiness_at_everything(tmp_path):
    # A TensorBoard that hangs or restarts makes the container not ready, never not live: Swarm
    # (HEALTHCHECK) and a Kubernetes liveness probe must not kill a healthy lab for it.
    s = Stack(tmp_path, "jupyter,tensorboard", {"DEEPDOCKER_LIVENESS": "false"})
    try:
        report = s.wait_healthy()
        live = s.health("--live", "--json")
        assert live.returncode == 0 and json.loads(live.stdout)["view"] == "liveness"
        assert set(json.loads(live.stdout)["services"]) == {"jupyter"}
        tensorboard, jupyter = report["services"]["tensorboard"]["pid"], report["services"]["jupyter"]["pid"]
        os.kill(tensorboard, signal.SIGSTOP)
        try:
            ready = s.health("--json")
            assert ready.returncode == 1 and json.loads(ready.stdout)["view"] == "readiness"
            assert s.health("--live").returncode == 0
            os.kill(jupyter, signal.SIGSTOP)
            try:
                assert s.health("--live").returncode == 1
            finally:
                os.kill(jupyter, signal.SIGCONT)
        finally:
            os.kill(tensorboard, signal.SIGCONT)
        assert s.health("--live", "--wait", "30").returncode == 0
    finally:
        assert s.stop() == 0


def test_without_jupyter_liveness_looks_at_every_daemon(tmp_path):
    s = Stack(tmp_path, "tensorboard,sshd")
    try:
        s.wait_healthy()
        assert set(json.loads(s.health("--live", "--json").stdout)["services"]) == {"tensorboard", "sshd"}
    finally:
        assert s.stop() == 0
