"""A command that asks for a Jupyter server gets the supervised one.

The original image's README ran `docker run -it -p 8888:8888 deepdocker:cpu jupyter notebook`.
Started as a plain command, that would be a second, unsupervised Jupyter running as root next
to the real one, on a port already taken. So `jupyter notebook|lab|server` (or `jupyter-lab`,
...) with nothing but options becomes the `jupyter` service: under supervisord, as the notebook
user, behind its login, the options passed on to it. Subcommands (`jupyter lab build`,
`jupyter notebook list`) and `--help`/`--version` run as ordinary commands.

docker-stacks' start commands mean the same here: `start-notebook.py` / `start-notebook.sh`
(the Jupyter that DOCKER_STACKS_JUPYTER_CMD names, with NOTEBOOK_ARGS and then their own options;
with no command at all these two variables apply too), and `start.sh CMD` (CMD, run as the
notebook user, which is what every command is here).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from ...core import values
from ...core.errors import UsageError
from ...core.model import Hub, Settings
from ...core.values import parse_port
from . import hub

# The command as typed -> the page Jupyter opens on ("" keeps JupyterLab's).
SERVERS = {
    ("jupyter", "notebook"): "/tree",
    ("jupyter-notebook",): "/tree",
    ("jupyter", "lab"): "",
    ("jupyter-lab",): "",
    ("jupyter", "server"): "",
    ("jupyter-server",): "",
}
# DOCKER_STACKS_JUPYTER_CMD -> the page Jupyter opens on.
STACKS_CMDS = {"lab": "", "notebook": "/tree", "server": "", "nbclassic": "/nbclassic/tree"}
START_NOTEBOOK = ("start-notebook.py", "start-notebook.sh")
START_SINGLEUSER = ("start-singleuser.py", "start-singleuser.sh", "jupyterhub-singleuser")
# Options that print something and exit: not a server.
INFO = {"-h", "--help", "--help-all", "--version", "--generate-config", "--show-config", "--show-config-json"}
# Already what deepdocker does: listening on DEEPDOCKER_BIND, no browser, never as root.
DROPPED = {"--allow-root", "--no-browser"}
ANY_ADDRESS = {"0.0.0.0", "*", "", "::"}
# The server's base URL: JUPYTER_BASE_URL, which every service under it and the health check follow.
BASE_URL = {"--ServerApp.base_url", "--NotebookApp.base_url"}
# Jupyter's login cannot be switched off, and a token in argv shows in `ps`.
_LOGIN = re.compile(r"--(\w+\.)?(token|password|password_required|disable_check_xsrf)(=|$)", re.I)


@dataclass(frozen=True)
class JupyterRequest:
    default_url: str
    port: str | None
    options: tuple[str, ...]
    # Set: JupyterHub's single-user server (hub).
    hub: Hub | None = None
    # Set: the base URL the options asked for (as JUPYTER_BASE_URL would).
    base_url: str | None = None
    # The server as docker-stacks names what it runs (`jupyter server`), for the start-up lines.
    program: str = ""

    @property
    def whole(self) -> bool:
        return self.hub is not None

    def env(self, env: dict[str, str]) -> dict[str, str]:
        """The environment that gives this: jupyter enabled, on the port asked for (in hub mode,
        the Hub's port, prefix and address)."""
        env = self.shape(env)
        services = env.get("SERVICES")
        if services is not None and not re.search(r"\b(jupyter|all)\b", services, re.I):
            env["SERVICES"] = f"{services},jupyter"
        if self.hub is not None:
            env["JUPYTER_BASE_URL"] = self.hub.prefix
            if self.hub.port is not None:
                env["JUPYTER_PORT"] = self.hub.port
            if self.hub.bind:
                env["DEEPDOCKER_BIND"] = self.hub.bind
        if self.port is not None:
            env["JUPYTER_PORT"] = self.port
        return env

    def shape(self, env: Mapping[str, str]) -> dict[str, str]:
        """The environment that gives the port and base URL the options asked for (NOTEBOOK_ARGS
        alone shape the server that SERVICES picks, without enabling it)."""
        env = dict(env)
        if self.base_url is not None:
            env["JUPYTER_BASE_URL"] = self.base_url
        if self.port is not None:
            env["JUPYTER_PORT"] = self.port
        return env

    def apply(self, settings: Settings) -> Settings:
        """The supervised Jupyter as asked: its page and options; in hub mode, the Hub's server."""
        jupyter = {"default_url": self.default_url, "options": self.options, "program": self.program}
        own = {**settings.own, "jupyter": jupyter}
        settings = dataclasses.replace(settings, own=own)
        return hub.hub_mode(settings, self.hub) if self.hub else settings


def _words(args: list[str]) -> tuple[str, list[str], str] | None:
    """(page, options, the server as docker-stacks names it: `jupyter-lab` is `jupyter lab`)."""
    for n in (2, 1):
        name = tuple(os.path.basename(a) if i == 0 else a for i, a in enumerate(args[:n]))
        if name in SERVERS:
            return SERVERS[name], args[n:], " ".join(name).replace("jupyter-", "jupyter ")
    return None


def stacks_page(env: Mapping[str, str]) -> str:
    raw = env.get("DOCKER_STACKS_JUPYTER_CMD")
    if raw is None:
        return ""
    value = raw.strip().lower() or "lab"
    if value not in STACKS_CMDS:
        raise UsageError("DOCKER_STACKS_JUPYTER_CMD", raw, "not a Jupyter deepdocker has", ", ".join(STACKS_CMDS))
    if value == "nbclassic" and not shutil.which("jupyter-nbclassic", path=env.get("PATH")):
        raise UsageError("DOCKER_STACKS_JUPYTER_CMD", raw, "nbclassic is not installed", "lab, notebook or server")
    return STACKS_CMDS[value]


def notebook_args(env: Mapping[str, str]) -> list[str]:
    raw = env.get("NOTEBOOK_ARGS", "")
    values.text("NOTEBOOK_ARGS", raw)
    try:
        return shlex.split(raw)
    except ValueError as e:
        raise UsageError(
            "NOTEBOOK_ARGS", raw, f"cannot be split into options ({e})", "options, quoted as in a shell"
        ) from None


def jupyter_request(args: list[str], env: Mapping[str, str] | None = None) -> JupyterRequest | None:
    """The request in `args` (and, for docker-stacks' start-notebook or the default start, in
    NOTEBOOK_ARGS and DOCKER_STACKS_JUPYTER_CMD), or None when they ask for something else.
    Bad options: UsageError."""
    env = {} if env is None else env
    name = os.path.basename(args[0]) if args else ""
    # docker-stacks' start-notebook (the image's default) hands over to start-singleuser when a Hub
    # started it; so does a Spawner that gives only the server's options (no command of its own).
    by_hub = bool(env.get("JUPYTERHUB_API_TOKEN")) and (not args or name in START_NOTEBOOK or name.startswith("-"))
    if by_hub and (not args or name.startswith("-")):
        args = ["start-singleuser.py", *args]
        name = args[0]
    if name in START_SINGLEUSER or by_hub:
        request = _server("", args[1:])
        if request is None:
            raise UsageError("command", shlex.join(args), "not only server options", "--Name.option=value ...")
        return dataclasses.replace(request, hub=hub.parse(env))
    if not args or os.path.basename(args[0]) in START_NOTEBOOK:
        if not args and "NOTEBOOK_ARGS" not in env and "DOCKER_STACKS_JUPYTER_CMD" not in env:
            return None
        page = stacks_page(env)
        raw = env.get("NOTEBOOK_ARGS", "")
        try:
            from_var = _server(page, notebook_args(env))
        except UsageError as e:  # named by the variable it came in
            if e.var == "NOTEBOOK_ARGS":
                raise
            option = f"{e.var}={'(hidden)' if e.secret else e.value}"
            raise UsageError("NOTEBOOK_ARGS", raw, f"{option}: {e.problem}", e.accepted, secret=e.secret) from None
        if from_var is None:
            raise UsageError("NOTEBOOK_ARGS", raw, "not only server options", "--Name.option=value ...")
        from_command = _server(page, args[1:])
        if from_command is None:
            raise UsageError("command", shlex.join(args), "not only server options", "--Name.option=value ...")
        options = (*from_var.options, *from_command.options)
        base_url = from_command.base_url or from_var.base_url
        program = f"jupyter {(env.get('DOCKER_STACKS_JUPYTER_CMD') or 'lab').strip().lower()}"
        return JupyterRequest(page, from_command.port or from_var.port, options, base_url=base_url, program=program)
    found = _words(args)
    if found is None:
        return None
    page, rest, program = found
    request = _server(page, rest)
    return request and dataclasses.replace(request, program=program)


def _server(default_url: str, rest: list[str]) -> JupyterRequest | None:
    if any(a.split("=", 1)[0] in INFO for a in rest):
        return None
    port = base_url = None
    options = []
    i = 0
    while i < len(rest):
        if not rest[i].startswith("-"):
            return None  # a subcommand or a file: not a server start
        option = values.text("command option", rest[i], what="an option")
        name, has_value, value = option.partition("=")
        if name in ("--port", "--ip", *BASE_URL) and not has_value:
            # `--port 8888`: the value is the next word.
            if i + 1 >= len(rest):
                form = {"--port": "--port=NUMBER", "--ip": "--ip=ADDRESS"}.get(name, f"{name}=/PATH/")
                raise UsageError(name, "", "no value", form)
            i += 1
            value = values.text(name, rest[i], what="a value")
        i += 1
        if name == "--port":
            port = str(parse_port("--port", value))
        elif name in BASE_URL:
            base_url = values.base_url(name, value)
        elif name == "--ip":
            if value not in ANY_ADDRESS:
                raise UsageError("--ip", value, "deepdocker picks the address", "0.0.0.0, or DEEPDOCKER_BIND=ADDRESS")
        elif name in DROPPED:
            pass
        elif _LOGIN.match(option):
            raise UsageError(
                name,
                value,
                "Jupyter's login is set by deepdocker",
                "JUPYTER_TOKEN, JUPYTER_TOKEN_FILE or JUPYTER_PASSWORD (there is no switch for no login)",
                secret=True,
            )
        else:
            options.append(option)
    return JupyterRequest(default_url, port, tuple(options), base_url=base_url)
