"""SERVICES=code (VS Code in the browser, code-server): what its registry entry and template give,
read back through supervisor's own parser; the daemon itself runs in tests/host/test_code_host.py and
tests/container/test_code.py."""

from __future__ import annotations

import os

import pytest

from entrypoint import cli, prepare
from entrypoint.core.errors import UsageError
from entrypoint.render import render
from entrypoint.services import jupyter
from tests.helpers import daemon_argv
from tests.unit.test_render import parse, programs

HUB_ENV = {"JUPYTERHUB_API_TOKEN": "hub-token-0123456789", "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/"}


@pytest.fixture
def env(tmp_path, base_env):
    notebooks = tmp_path / "note books %(x)s"
    notebooks.mkdir()
    return {**base_env, "SERVICES": "jupyter,code", "NOTEBOOK_DIR": str(notebooks)}


def argv(tmp_path, settings) -> list[str]:
    return daemon_argv(programs(parse(tmp_path, render(settings)))["code"].command)


def test_behind_jupyters_login_it_has_none_of_its_own(tmp_path, env):
    settings, _ = cli.configure(env, [])
    e = settings.get("code")
    got = argv(tmp_path, settings)
    assert got[1:3] == ["--auth=none", f"--bind-addr=127.0.0.1:{e.port}"]
    # It opens the notebook folder, and keeps settings and extensions under the user's home.
    assert got[-1] == env["NOTEBOOK_DIR"]
    home = env["HOME"]
    assert f"--user-data-dir={home}/.local/share/code-server" in got
    assert f"--extensions-dir={home}/.local/share/code-server/extensions" in got
    assert "--config=/dev/null" in got and "--disable-telemetry" in got and "--disable-update-check" in got
    assert settings.generated == ("JUPYTER_TOKEN",) and "CODE_PASSWORD" not in settings.secrets
    # At /code/ behind Jupyter's login, started by the first request there.
    server = jupyter.config(settings, settings.get("jupyter"))["ServerProxy"]["servers"]["code"]
    assert server["port"] == e.port and server["command"][-1] == "code" and e.on_demand


def test_published_it_asks_for_its_own_password_read_from_a_file(tmp_path, env, capsys):
    settings, _ = cli.configure({**env, "CODE_PUBLIC": "true", "DEEPDOCKER_BIND": "127.0.0.1"}, [])
    e = settings.get("code")
    assert (e.public, e.own_login, e.proxied, e.on_demand) == (True, True, False, False)
    password = settings.secret("CODE_PASSWORD")
    assert "CODE_PASSWORD" in settings.generated and len(password) >= 12
    text = render(settings)
    assert password not in text
    got = argv(tmp_path, settings)
    secret = settings.run_dir / "secrets" / "code" / "CODE_PASSWORD"
    assert got[:4] == ["/bin/sh", "-c", 'PASSWORD=$(cat -- "$0") && export PASSWORD && exec "$@"', str(secret)]
    assert got[4:7] == [e.exe, "--auth=password", f"--bind-addr=127.0.0.1:{e.port}"]
    paths = prepare.prepare(settings, text)
    assert secret.read_text() == password and (secret.stat().st_mode & 0o777) == 0o600
    assert secret.stat().st_uid == os.geteuid()
    assert "ServerProxy" not in jupyter.config(settings, settings.get("jupyter"))  # nothing to proxy
    cli.announce(settings)
    err = capsys.readouterr().err
    assert err.count(password) == 1 and "CODE_PASSWORD (generated, shown once)" in err
    assert paths.secret(e, "CODE_PASSWORD") == secret


def test_its_password_from_a_file_and_never_in_a_daemons_environment(tmp_path, env):
    given = tmp_path / "code-password"
    given.write_text("a long pass phrase\n")
    published = {**env, "CODE_PUBLIC": "true", "CODE_PASSWORD_FILE": str(given)}
    settings, _ = cli.configure(published, [])
    assert settings.secret("CODE_PASSWORD") == "a long pass phrase" and "CODE_PASSWORD" not in settings.generated
    daemons = cli.daemon_env({**published, "CODE_PASSWORD": "x"}, settings)
    assert "CODE_PASSWORD" not in daemons and "CODE_PASSWORD_FILE" not in daemons


def test_no_password_file_is_left_once_it_is_behind_jupyter_again(tmp_path, env):
    settings, _ = cli.configure({**env, "CODE_PUBLIC": "true", "CODE_PASSWORD": "a long pass phrase"}, [])
    prepare.prepare(settings, render(settings))
    settings, _ = cli.configure(env, [])
    prepare.prepare(settings, render(settings))
    assert not (settings.run_dir / "secrets" / "code").exists()


def test_an_ipv6_address_is_bracketed(tmp_path, env):
    settings, _ = cli.configure({**env, "CODE_PUBLIC": "true", "DEEPDOCKER_BIND": "::1"}, [])
    assert f"--bind-addr=[::1]:{settings.get('code').port}" in argv(tmp_path, settings)


def test_behind_a_hub_it_cannot_be_published(tmp_path, env, stand_ins):
    singleuser = stand_ins / "jupyterhub-singleuser"
    singleuser.write_text((stand_ins / "jupyter-lab").read_text())
    singleuser.chmod(0o755)
    with pytest.raises(UsageError) as err:
        cli.configure({**env, **HUB_ENV, "CODE_PUBLIC": "true"}, ["start-singleuser.py"])
    assert str(err.value).startswith("CODE_PUBLIC=")
    settings, _ = cli.configure({**env, **HUB_ENV}, ["start-singleuser.py"])
    assert "--auth=none" in argv(tmp_path, settings) and not settings.generated
    assert programs(parse(tmp_path, render(settings)))["code"].environment["JUPYTERHUB_API_TOKEN"] == ""
