"""`docker run ... deepdocker:cpu jupyter notebook`: the command becomes the supervised Jupyter."""

import shlex

import pytest
from supervisor.options import ServerOptions

from entrypoint.core.errors import UsageError
from entrypoint.render import render
from entrypoint.services.jupyter.command import jupyter_request
from entrypoint.settings import from_env
from tests.helpers import daemon_argv


@pytest.mark.parametrize(
    "argv, page, port, options",
    [
        ("jupyter notebook", "/tree", None, ()),
        ("jupyter lab", "", None, ()),
        ("jupyter server", "", None, ()),
        ("/opt/venv/bin/jupyter-lab", "", None, ()),
        ("jupyter-notebook --port=9000", "/tree", "9000", ()),
        ("jupyter notebook --port 9001 --ip=0.0.0.0 --allow-root --no-browser", "/tree", "9001", ()),
        ("jupyter lab --ip '*' --ServerApp.max_body_size=10", "", None, ("--ServerApp.max_body_size=10",)),
        ("jupyter lab --LabApp.collaborative=True --debug", "", None, ("--LabApp.collaborative=True", "--debug")),
    ],
)
def test_server_commands_are_recognised(argv, page, port, options):
    request = jupyter_request(shlex.split(argv))
    assert request is not None
    assert (request.default_url, request.port, request.options) == (page, port, options)


@pytest.mark.parametrize(
    "argv",
    [
        "bash",
        "jupyter",
        "jupyter nbconvert --to html x.ipynb",
        "jupyter lab build",
        "jupyter notebook list",
        "jupyter server extension list",
        "jupyter lab --version",
        "jupyter notebook --help",
        "jupyter lab --generate-config",
        "python -m jupyter lab",
    ],
)
def test_other_commands_run_as_commands(argv):
    assert jupyter_request(shlex.split(argv)) is None


@pytest.mark.parametrize(
    "argv, name",
    [
        ("jupyter notebook --port=http", "--port="),
        ("jupyter notebook --port", "--port="),
        ("jupyter notebook --ip=10.1.2.3", "--ip="),
        ("jupyter lab --NotebookApp.token=", "--NotebookApp.token="),
        ("jupyter lab --IdentityProvider.token=s3cret", "--IdentityProvider.token="),
        ("jupyter lab --ServerApp.password_required=False", "--ServerApp.password_required="),
        ("jupyter lab --ServerApp.disable_check_xsrf=True", "--ServerApp.disable_check_xsrf="),
    ],
)
def test_bad_or_unsafe_options_are_refused_in_one_line(argv, name):
    with pytest.raises(UsageError) as err:
        jupyter_request(shlex.split(argv))
    message = str(err.value)
    assert message.startswith(name) and "accepted: " in message and "\n" not in message
    assert "s3cret" not in message


@pytest.mark.parametrize("option", ["--x=a\nb", "--x=\r", "--x=\x1b[2J", "--x=\udcff", "--x=" + "y" * 5000])
def test_options_that_no_config_line_can_hold_are_refused(option):
    with pytest.raises(UsageError, match=r"^command option="):
        jupyter_request(["jupyter", "lab", option])


def test_options_reach_jupyters_command_line_and_nothing_else(tmp_path, base_env):
    options = ["--ServerApp.max_body_size=10", "--x='a b' %(here)s;[program:evil]"]
    request = jupyter_request(["jupyter", "notebook", "--port=9999", *options])
    # SERVICES without jupyter: the command asks for it, so it is added.
    settings = from_env(request.env({**base_env, "SERVICES": "sshd"}))
    settings = request.apply(settings)
    (settings.run_dir).mkdir()
    conf = tmp_path / "supervisord.conf"
    conf.write_text(render(settings))
    opts = ServerOptions()
    opts.configfile = str(conf)
    opts.process_config(do_usage=False)
    programs = {p.name: p for g in opts.process_group_configs for p in g.process_configs}
    assert sorted(programs) == ["jupyter", "sshd"]
    argv = daemon_argv(programs["jupyter"].command)
    assert "--port=9999" in argv and "--LabApp.default_url=/tree" in argv
    assert argv[-2:] == options
