"""The CLIs as a user runs them: exit statuses, one-line errors, nothing written."""

import os
import subprocess

import pytest

from tests.helpers import ENTRYPOINT, HEALTH


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, **kw)


@pytest.fixture
def env(tmp_path):
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DEEPDOCKER_RUN_DIR": str(tmp_path / "run")}


BAD = [
    ({"SERVICES": "bogus"}, "SERVICES="),
    ({"SERVICES": "jupyter,rstudio"}, "SERVICES="),
    ({"JUPYTER_PORT": "http"}, "JUPYTER_PORT="),
    ({"TENSORBOARD_PORT": "70000"}, "TENSORBOARD_PORT="),
    ({"SERVICES": "jupyter,sshd", "SSHD_PORT": "8888"}, "SSHD_PORT="),
    ({"JUPYTER_TOKEN": " "}, "JUPYTER_TOKEN="),
    ({"JUPYTER_TOKEN_FILE": "/no/such/file"}, "JUPYTER_TOKEN_FILE="),
    ({"DEEPDOCKER_ON_FATAL": "maybe"}, "DEEPDOCKER_ON_FATAL="),
    ({"DEEPDOCKER_BIND": "everywhere"}, "DEEPDOCKER_BIND="),
]


@pytest.mark.parametrize("bad, prefix", BAD)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, env, bad, prefix):
    result = run([ENTRYPOINT], {**env, **bad})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"deepdocker-entrypoint: {prefix}")
    assert "accepted:" in lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "run").exists()


def test_print_config_writes_nothing(tmp_path, env):
    result = run([ENTRYPOINT, "--print-config"], {**env, "SERVICES": "jupyter,sshd"})
    assert result.returncode == 0, result.stderr
    assert "[program:jupyter]" in result.stdout and "[program:sshd]" in result.stdout
    assert not (tmp_path / "run").exists()


def test_health_without_a_stack_is_unhealthy(tmp_path, env):
    result = run([HEALTH], env)
    assert result.returncode == 1
    assert "not running" in result.stderr
    result = run([HEALTH, "--json"], env)
    assert result.returncode == 1 and '"healthy": false' in result.stdout


@pytest.mark.parametrize("args", [["--bogus"], ["--wait"], ["--wait", "soon"], ["--wait=-1"]])
def test_health_usage_errors_exit_2(env, args):
    result = run([HEALTH, *args], env)
    assert result.returncode == 2
    assert result.stderr.startswith("deepdocker-health: ")
