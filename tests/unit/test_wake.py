"""On demand: the wake FIFO's two ends, and what deepdocker-health makes of a service nobody opened."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from entrypoint import wake
from entrypoint.supervisor_ext import MAX_WAKE_LINE, _WakeFifo
from healthchecks import cli


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "wake"
    os.mkfifo(path, 0o600)
    return path


def test_a_name_is_handed_to_the_reader_line_by_line(fifo):
    started: list[str] = []
    reader = _WakeFifo(str(fifo), started.append)
    assert wake.wake(str(fifo), "tensorboard") is None
    assert wake.wake(str(fifo), "tensorboard") is None
    reader.handle_read_event()
    assert started == ["tensorboard", "tensorboard"]
    # Lines too long, empty, or split across reads: only whole, short lines count.
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"x" * (MAX_WAKE_LINE + 1) + b"\n\nten")
    reader.handle_read_event()
    os.write(fd, b"sorboard\n")
    reader.handle_read_event()
    os.close(fd)
    assert started == ["tensorboard"] * 3
    # With every writer gone the reader does not see end of file (no busy loop): nothing to read.
    reader.handle_read_event()
    assert started == ["tensorboard"] * 3


def test_no_reader_is_said_at_once_and_exits_0(fifo):
    assert "not reading" in (wake.wake(str(fifo), "tensorboard") or "")
    # Run as Jupyter's proxy runs it: status 0 whatever happens (else the proxy reruns it), reason on stderr.
    done = subprocess.run(
        [sys.executable, "-I", "-m", "entrypoint.wake", str(fifo), "tensorboard"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=os.path.dirname(os.path.dirname(wake.__file__)),
    )
    assert done.returncode == 0
    why = f"{fifo}: supervisord is not reading it"
    assert done.stderr.strip() == f"deepdocker: cannot start tensorboard on demand: {why}"
    missing = wake.wake(str(fifo.parent / "gone"), "tensorboard")
    assert missing and "No such file" in missing


STATE = "socket\t/x.sock\njupyter\thttp\t127.0.0.1\t8888\t/api\tnow\ntensorboard\thttp\t127.0.0.1\t6006\t/\ton-demand\n"


def status(tb: dict) -> list[dict]:
    return [{"name": "jupyter", "state": "RUNNING", "pid": 7, "restarts": 0}, {"name": "tensorboard", **tb}]


@pytest.mark.parametrize(
    "tb, state, healthy",
    [
        # Never spawned: IDLE, nothing to probe, healthy.
        ({"state": "STOPPED", "pid": 0, "restarts": 0, "started": False}, "IDLE", True),
        # Its first start, a request waiting on it: healthy while it comes up.
        ({"state": "STARTING", "pid": 9, "restarts": 0, "started": True}, "STARTING", True),
        # Crashed after that, or stopped by hand: like any other service, not healthy.
        ({"state": "STARTING", "pid": 9, "restarts": 1, "started": True}, "STARTING", False),
        ({"state": "BACKOFF", "pid": 0, "restarts": 0, "started": True}, "BACKOFF", False),
        ({"state": "STOPPED", "pid": 0, "restarts": 0, "started": True}, "STOPPED", False),
        ({"state": "FATAL", "pid": 0, "restarts": 3, "started": True}, "FATAL", False),
    ],
)
def test_health_of_an_on_demand_service(tmp_path, monkeypatch, tb, state, healthy):
    (tmp_path / "services.tsv").write_text(STATE)
    monkeypatch.setattr(cli.rpc, "call", lambda socket, method: status(tb))
    monkeypatch.setattr(cli, "probe", lambda spec: (spec.target == "/api", "probed"))
    report = cli.check(str(tmp_path))
    assert report["services"]["tensorboard"]["state"] == state
    assert report["healthy"] is healthy
    assert ("IDLE" in cli.table(report)) == (state == "IDLE")


def test_a_service_started_at_once_is_never_idle(tmp_path, monkeypatch):
    (tmp_path / "services.tsv").write_text(STATE.replace("on-demand", "now"))
    tb = {"state": "STOPPED", "pid": 0, "restarts": 0, "started": False}
    monkeypatch.setattr(cli.rpc, "call", lambda socket, method: status(tb))
    monkeypatch.setattr(cli, "probe", lambda spec: (True, "probed"))
    report = cli.check(str(tmp_path))
    assert report["services"]["tensorboard"]["state"] == "STOPPED" and report["healthy"] is False


@pytest.mark.parametrize("env, start", [({}, "on-demand"), ({"DEEPDOCKER_ON_DEMAND": "no"}, "now")])
def test_the_state_file_says_what_starts_on_demand(tmp_path, base_env, env, start):
    from entrypoint.prepare import state
    from entrypoint.settings import from_env

    s = from_env({**base_env, "SERVICES": "jupyter,tensorboard", **env})
    (tmp_path / "services.tsv").write_text(state(s))
    services = cli.read_state(str(tmp_path)).services
    assert services["tensorboard"].start == start and services["jupyter"].start == "now"


@pytest.mark.parametrize("env, says", [({}, ", started by its first request"), ({"DEEPDOCKER_ON_DEMAND": "0"}, "")])
def test_the_start_notice_says_when_tensorboard_starts(base_env, capsys, env, says):
    from entrypoint.cli import announce
    from entrypoint.settings import from_env

    announce(from_env({**base_env, "SERVICES": "jupyter,tensorboard", "JUPYTER_TOKEN": "t" * 16, **env}))
    assert f"tensorboard: /tensorboard/ behind Jupyter's login{says}\n" in capsys.readouterr().err
