"""On demand: the wake FIFO's two ends, and what deepdocker-health makes of a service nobody opened."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time

import pytest

from entrypoint import wake
from entrypoint.render import WAITER
from healthchecks import cli


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "wake"
    os.mkfifo(path, 0o600)
    return path


def waiter(fifo, out) -> subprocess.Popen:
    """An on-demand program's command as supervisord runs it: the waiter, then a stand-in daemon."""
    argv = [*shlex.split(WAITER), str(fifo), sys.executable, "-c", f"open({str(out)!r}, 'w').write('daemon')"]
    return subprocess.Popen(argv)


def test_the_program_waits_on_its_fifo_then_becomes_the_daemon(fifo, tmp_path):
    out = tmp_path / "ran"
    first = waiter(fifo, out)
    with pytest.raises(subprocess.TimeoutExpired):
        first.wait(0.5)  # waiting: nothing has asked for it
    assert not out.exists() and not (tmp_path / "wake.started").exists()
    assert wake.wake(str(fifo), "tensorboard") is None
    assert first.wait(30) == 0 and out.read_text() == "daemon"
    # Woken once: a restart (after a crash) starts the daemon at once, with nobody writing.
    assert (tmp_path / "wake.started").exists()
    out.unlink()
    assert waiter(fifo, out).wait(30) == 0 and out.read_text() == "daemon"


def test_a_waiter_is_stopped_by_sigterm_at_once(fifo, tmp_path):
    p = waiter(fifo, tmp_path / "ran")
    time.sleep(0.2)
    p.terminate()
    assert p.wait(5) == -15 and not (tmp_path / "ran").exists()


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
        # Waiting on its FIFO (running, a shell): IDLE, nothing to probe, healthy.
        ({"state": "RUNNING", "pid": 8, "restarts": 0, "started": False}, "IDLE", True),
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
    tb = {"state": "RUNNING", "pid": 8, "restarts": 0, "started": False}
    monkeypatch.setattr(cli.rpc, "call", lambda socket, method: status(tb))
    monkeypatch.setattr(cli, "probe", lambda spec: (spec.target == "/api", "probed"))
    report = cli.check(str(tmp_path))
    assert report["services"]["tensorboard"]["state"] == "RUNNING" and report["healthy"] is False


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
