"""The CLIs as a user runs them: exit statuses, one-line errors, nothing written."""

import json
import subprocess
import time

import pytest

from tests.helpers import ENTRYPOINT, HEALTH


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, **kw)


@pytest.fixture
def env(base_env):
    return base_env


GOOD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb7mEZkKoHkZ6u6j9hXj2Zs5SxC7w1m6n1qK0H8k3tD test@example"
BAD = [
    ({"SERVICES": "bogus"}, "SERVICES="),
    ({"SERVICES": "jupyter,tensorboard", "PATH": "/nonexistent"}, "SERVICES="),
    ({"SERVICES": "jupyter;sshd"}, "SERVICES="),
    ({"SERVICES": ","}, "SERVICES="),
    ({"JUPYTER_PORT": "http"}, "JUPYTER_PORT="),
    ({"JUPYTER_PORT": "0"}, "JUPYTER_PORT="),
    ({"JUPYTER_PORT": "-8888"}, "JUPYTER_PORT="),
    ({"TENSORBOARD_PORT": "70000"}, "TENSORBOARD_PORT="),
    ({"RSTUDIO_PORT": "87.87"}, "RSTUDIO_PORT="),
    ({"SSHD_PORT": ""}, "SSHD_PORT="),
    ({"SERVICES": "jupyter,sshd", "SSHD_PORT": "8888"}, "SSHD_PORT="),
    ({"SERVICES": "jupyter,tensorboard", "TENSORBOARD_PORT": "8888"}, "TENSORBOARD_PORT="),
    ({"JUPYTER_TOKEN": " "}, "JUPYTER_TOKEN="),
    ({"JUPYTER_TOKEN": "two words"}, "JUPYTER_TOKEN="),
    ({"JUPYTER_TOKEN_FILE": "/no/such/file"}, "JUPYTER_TOKEN_FILE="),
    ({"JUPYTER_TOKEN_FILE": "/dev/null"}, "JUPYTER_TOKEN_FILE="),
    ({"JUPYTER_TOKEN_FILE": "/"}, "JUPYTER_TOKEN_FILE="),
    ({"JUPYTER_TOKEN": "abc", "JUPYTER_TOKEN_FILE": "/etc/hostname"}, "JUPYTER_TOKEN_FILE="),
    ({"JUPYTER_PASSWORD": ""}, "JUPYTER_PASSWORD="),
    ({"JUPYTER_PASSWORD_FILE": "/no/such/file"}, "JUPYTER_PASSWORD_FILE="),
    ({"PASSWORD_FILE": "/no/such/file"}, "PASSWORD_FILE="),
    ({"DISABLE_AUTH": "perhaps"}, "DISABLE_AUTH="),
    ({"TENSORBOARD_PUBLIC": "2"}, "TENSORBOARD_PUBLIC="),
    ({"JUPYTER_BASE_URL": "no slash"}, "JUPYTER_BASE_URL="),
    ({"NOTEBOOK_DIR": "/no/such/dir"}, "NOTEBOOK_DIR="),
    ({"DEEPDOCKER_ON_FATAL": "maybe"}, "DEEPDOCKER_ON_FATAL="),
    ({"DEEPDOCKER_BIND": "everywhere"}, "DEEPDOCKER_BIND="),
    ({"DEEPDOCKER_BIND": "300.1.1.1"}, "DEEPDOCKER_BIND="),
    ({"DEEPDOCKER_RUN_DIR": "relative/run"}, "DEEPDOCKER_RUN_DIR="),
    ({"NB_USER": "no-such-user-anywhere"}, "NB_USER="),
    ({"NB_USER": "nobody", "NB_UID": "abc"}, "NB_UID="),
    ({"NB_USER": "root", "NB_UID": "5"}, "NB_UID="),
    ({"NB_USER": "nobody", "NB_UMASK": "0999"}, "NB_UMASK="),
    ({"NB_USER": "nobody", "NB_GROUP": "Bad Name"}, "NB_GROUP="),
    ({"CHOWN_HOME_OPTS": "-R --from=0"}, "CHOWN_HOME_OPTS="),
    ({"CHOWN_EXTRA": "/no/such/folder"}, "CHOWN_EXTRA="),
    ({"JUPYTER_ENV_VARS_TO_UNSET": "A,B C"}, "JUPYTER_ENV_VARS_TO_UNSET="),
    ({"RESTARTABLE": "maybe"}, "RESTARTABLE="),
    ({"NB_USER": "nobody", "NB_UID": "1000", "NB_GID": "-5"}, "NB_GID="),
    ({"NB_UID": "4242"}, "NB_UID="),
    ({"SHARED_DIR": "/no/such/shared"}, "SHARED_DIR="),
    ({"SSH_AUTHORIZED_KEYS": "not a key"}, "SSH_AUTHORIZED_KEYS="),
    ({"SSH_AUTHORIZED_KEYS": "ssh-ed25519 !!!notbase64"}, "SSH_AUTHORIZED_KEYS="),
    ({"SSH_AUTHORIZED_KEYS": "ssh-rsa " + GOOD_KEY.split()[1]}, "SSH_AUTHORIZED_KEYS="),
    ({"SSH_AUTHORIZED_KEYS": GOOD_KEY + "\nssh-ed25519"}, "SSH_AUTHORIZED_KEYS="),
]


@pytest.mark.parametrize("bad, prefix", BAD)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, env, bad, prefix):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "keep.txt").write_text("mine")
    before = sorted((p.name, p.stat().st_mtime_ns, p.stat().st_uid) for p in shared.iterdir())
    start = time.monotonic()
    result = run([ENTRYPOINT], {**env, "SERVICES": "jupyter,sshd,tensorboard", **bad})
    assert time.monotonic() - start < 1.0, "bad input must be refused within a second"
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"deepdocker-entrypoint: {prefix}")
    assert "accepted:" in lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "run").exists()
    assert sorted((p.name, p.stat().st_mtime_ns, p.stat().st_uid) for p in shared.iterdir()) == before


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
    result = run([HEALTH, "--live", "--json"], env)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"healthy": False, "view": "liveness", "services": {}}


@pytest.mark.parametrize("args", [["--bogus"], ["--wait"], ["--wait", "soon"], ["--wait=-1"], ["--gpu", "--live"]])
def test_health_usage_errors_exit_2(env, args):
    result = run([HEALTH, *args], env)
    assert result.returncode == 2
    assert result.stderr.startswith("deepdocker-health: ")
