"""SERVICES=shiny: what its registry entry and template give, read back through supervisor's own
parser; the apps run in tests/host/test_shiny_host.py and tests/container/test_shiny.py."""

from __future__ import annotations

import pytest

from entrypoint import cli
from entrypoint.core.errors import UsageError
from entrypoint.render import render
from entrypoint.services import jupyter
from tests.helpers import daemon_argv
from tests.unit.test_render import parse, programs


@pytest.fixture
def env(tmp_path, base_env):
    notebooks = tmp_path / "note books"
    notebooks.mkdir()
    return {**base_env, "SERVICES": "jupyter,shiny", "NOTEBOOK_DIR": str(notebooks)}


def argv(tmp_path, settings) -> list[str]:
    return daemon_argv(programs(parse(tmp_path, render(settings)))["shiny"].command)


def test_behind_jupyters_login_over_a_folder_under_the_notebooks(tmp_path, env):
    settings, _ = cli.configure(env, [])
    e = settings.get("shiny")
    assert argv(tmp_path, settings)[1:] == ["--host=127.0.0.1", f"--port={e.port}", f"{env['NOTEBOOK_DIR']}/shiny"]
    server = jupyter.config(settings, settings.get("jupyter"))["ServerProxy"]["servers"]["shiny"]
    assert server["port"] == e.port and e.on_demand and not e.own_login


def test_its_folder_is_the_one_asked_for(tmp_path, env):
    settings, _ = cli.configure({**env, "SHINY_APPS_DIR": "/srv/shiny apps"}, [])
    assert argv(tmp_path, settings)[-1] == "/srv/shiny apps"


@pytest.mark.parametrize("bad", ["apps", "/srv/x\n[program:evil]", "/srv/a ;b"])
def test_a_folder_that_is_no_absolute_path_is_refused(env, bad):
    with pytest.raises(UsageError) as err:
        cli.configure({**env, "SHINY_APPS_DIR": bad}, [])
    assert str(err.value).startswith("SHINY_APPS_DIR=")


def test_published_it_has_no_login_and_says_so(tmp_path, env, capsys):
    settings, _ = cli.configure({**env, "SHINY_PUBLIC": "true", "DEEPDOCKER_BIND": "127.0.0.1"}, [])
    e = settings.get("shiny")
    assert (e.public, e.own_login, e.on_demand) == (True, False, False)
    cli.announce(settings)
    assert "WARNING: SHINY_PUBLIC=true: shiny has no login" in capsys.readouterr().err
