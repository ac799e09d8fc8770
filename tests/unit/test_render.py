"""The rendered supervisord.conf, read back through supervisor's own config parser."""

import dataclasses
import os

import pytest
from supervisor.options import ServerOptions

from entrypoint.render import WAITER, render
from entrypoint.settings import from_env
from tests.helpers import daemon_argv


def parse(tmp_path, text):
    # supervisord wants the pidfile's folder to exist, as prepare() makes it.
    (tmp_path / "run").mkdir(exist_ok=True)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    opts = ServerOptions()
    opts.configfile = str(conf)
    opts.process_config(do_usage=False)
    return opts


@pytest.fixture
def settings(tmp_path, base_env):
    def make(**env):
        notebooks = tmp_path / "note books;x#y %(x)s"  # spaces, %, ; and # must survive
        notebooks.mkdir(exist_ok=True)
        base = {**base_env, "NOTEBOOK_DIR": str(notebooks), "SERVICES": "jupyter,tensorboard,sshd"}
        return from_env({**base, **env})

    return make


ALL = "jupyter,tensorboard,sshd,rstudio"


def programs(opts):
    return {p.name: p for g in opts.process_group_configs for p in g.process_configs}


def test_one_program_per_enabled_service(tmp_path, settings):
    s = settings()
    opts = parse(tmp_path, render(s))
    assert sorted(programs(opts)) == ["jupyter", "sshd", "tensorboard"]
    for p in programs(opts).values():
        assert p.autorestart
        # Every program runs (supervisorctl status: RUNNING); TensorBoard, behind Jupyter's login,
        # as a waiter on its FIFO until its first request (on demand).
        assert p.autostart
        assert p.command.startswith("/bin/sh -c") == (p.name == "tensorboard")
        assert p.stopasgroup and p.killasgroup
        assert p.stdout_logfile is None and p.stderr_logfile is None
        assert p.stdout_events_enabled and p.stderr_events_enabled
    assert opts.nodaemon


def test_commands_and_ports(tmp_path, settings):
    s = settings(JUPYTER_PORT="9999", DEEPDOCKER_BIND="127.0.0.1", JUPYTER_BASE_URL="/user/me")
    progs = programs(parse(tmp_path, render(s)))
    argv = daemon_argv(progs["jupyter"].command)
    assert argv[0] == s.get("jupyter").exe
    assert "--port=9999" in argv and "--ip=127.0.0.1" in argv
    assert "--ServerApp.base_url=/user/me/" in argv
    env = progs["jupyter"].environment
    assert env["JUPYTER_TOKEN_FILE"] == str(s.run_dir / "jupyter" / "token")
    tb = daemon_argv(progs["tensorboard"].command)
    assert "--port=6006" in tb and f"--logdir={tmp_path}/note books;x#y %(x)s/logs" in tb
    assert progs["jupyter"].directory == s.notebook_dir
    sshd = daemon_argv(progs["sshd"].command)
    assert sshd == [s.get("sshd").exe, "-D", "-e", "-f", str(s.run_dir / "sshd_config")]


def test_token_never_in_config(tmp_path, settings):
    s = settings(JUPYTER_TOKEN="s3cr3t-token-value")
    assert "s3cr3t-token-value" not in render(s)


def test_socket_is_unix_and_private(tmp_path, settings):
    s = settings()
    opts = parse(tmp_path, render(s))
    (server,) = opts.configroot.supervisord.server_configs
    assert server["family"] == __import__("socket").AF_UNIX
    assert server["file"] == str(s.run_dir / "supervisor.sock")
    assert server["chmod"] == 0o700


@pytest.mark.parametrize("env, liveness", [({}, "on"), ({"DEEPDOCKER_LIVENESS": "false"}, "off")])
def test_extension_is_loaded_with_its_policies(tmp_path, settings, env, liveness):
    s = settings(DEEPDOCKER_ON_FATAL="exit", **env)
    opts = parse(tmp_path, render(s))
    factories = {name: (factory, cfg) for name, factory, cfg in opts.configroot.supervisord.rpcinterface_factories}
    factory, cfg = factories["deepdocker"]
    assert factory.__module__ == "deepdocker_supervisor.extension"
    assert cfg == {
        "on_fatal": "exit",
        "liveness": liveness,
        "state_file": str(s.run_dir / "services.tsv"),
        "on_demand": "tensorboard",
        "wake_dir": str(s.run_dir / "wake"),
        "status_socket": str(s.run_dir / "status.sock"),
        "status_owner": f"{s.account.uid}:{s.account.gid}",
    }


@pytest.mark.parametrize(
    "env, services, started_at_once",
    [
        ({}, "jupyter,tensorboard", {"jupyter"}),
        ({"DEEPDOCKER_ON_DEMAND": "false"}, "jupyter,tensorboard", {"jupyter", "tensorboard"}),
        # Its own port, its own public: nobody would go through Jupyter's proxy to start it.
        ({"TENSORBOARD_PUBLIC": "true"}, "jupyter,tensorboard", {"jupyter", "tensorboard"}),
        # No Jupyter, no proxy to start it.
        ({}, "tensorboard,sshd", {"tensorboard", "sshd"}),
    ],
)
def test_on_demand_services_wait_for_their_first_request(tmp_path, settings, env, services, started_at_once):
    s = settings(SERVICES=services, **env)
    opts = parse(tmp_path, render(s))
    waiting = {n for n, p in programs(opts).items() if p.command.startswith(WAITER)}
    assert waiting == set(programs(opts)) - started_at_once
    (_, _, cfg), *_ = [f for f in opts.configroot.supervisord.rpcinterface_factories if f[0] == "deepdocker"]
    assert set(filter(None, cfg.get("on_demand", "").split(","))) == waiting
    assert ("wake_dir" in cfg) == bool(waiting)


def test_rstudio_renders(tmp_path, settings, stand_ins):
    s = settings(SERVICES=ALL)
    progs = programs(parse(tmp_path, render(s)))
    argv = daemon_argv(progs["rstudio"].command)
    assert argv[0] == str(stand_ins / "rserver")
    assert "--server-daemonize=0" in argv and "--www-port=8787" in argv
    assert "--server-health-check-enabled=1" in argv


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_root_drops_notebook_services_to_nb_user(tmp_path, settings):
    s = settings(SERVICES=ALL, NB_USER="nobody", NOTEBOOK_DIR="/")  # a folder nobody may open
    progs = programs(parse(tmp_path, render(s)))
    assert progs["jupyter"].uid is not None and progs["jupyter"].uid != 0
    assert progs["tensorboard"].uid == progs["jupyter"].uid
    # sshd and rserver switch users per login themselves.
    assert progs["sshd"].uid is None and progs["rstudio"].uid is None
    assert "--allow-root" not in progs["jupyter"].command


def test_rstudio_login_stays_on_unless_disabled(tmp_path, settings):
    s = settings(SERVICES=ALL)
    assert "--auth-none=1" not in programs(parse(tmp_path, render(s)))["rstudio"].command
    s = settings(SERVICES=ALL, DISABLE_AUTH="true")
    assert "--auth-none=1" in daemon_argv(programs(parse(tmp_path, render(s)))["rstudio"].command)


def test_rstudio_password_is_never_in_the_config(tmp_path, settings):
    s = settings(SERVICES=ALL)
    s = dataclasses.replace(s, secrets={**s.secrets, "PASSWORD": "pw-for-rstudio-123"})
    assert "pw-for-rstudio-123" not in render(s)
