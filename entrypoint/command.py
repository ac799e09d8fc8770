"""A command that asks for a Jupyter server gets the supervised one.

The original image's README ran `docker run -it -p 8888:8888 deepdocker:cpu jupyter notebook`.
Started as a plain command, that would be a second, unsupervised Jupyter running as root next
to the real one, on a port already taken. So `jupyter notebook|lab|server` (or `jupyter-lab`,
...) with nothing but options becomes the `jupyter` service: under supervisord, as the notebook
user, behind its login, the options passed on to it. Subcommands (`jupyter lab build`,
`jupyter notebook list`) and `--help`/`--version` run as ordinary commands.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from . import values
from .errors import UsageError
from .settings import parse_port

# The command as typed -> the page Jupyter opens on ("" keeps JupyterLab's).
SERVERS = {
    ("jupyter", "notebook"): "/tree",
    ("jupyter-notebook",): "/tree",
    ("jupyter", "lab"): "",
    ("jupyter-lab",): "",
    ("jupyter", "server"): "",
    ("jupyter-server",): "",
}
# Options that print something and exit: not a server.
INFO = {"-h", "--help", "--help-all", "--version", "--generate-config", "--show-config", "--show-config-json"}
# Already what deepdocker does: listening on DEEPDOCKER_BIND, no browser, never as root.
DROPPED = {"--allow-root", "--no-browser"}
ANY_ADDRESS = {"0.0.0.0", "*", "", "::"}
# Jupyter's login cannot be switched off, and a token in argv shows in `ps`.
_LOGIN = re.compile(r"--(\w+\.)?(token|password|password_required|disable_check_xsrf)(=|$)", re.I)


@dataclass(frozen=True)
class JupyterRequest:
    default_url: str
    port: str | None
    options: tuple[str, ...]

    def env(self, env: dict[str, str]) -> dict[str, str]:
        """The environment that gives this: jupyter enabled, on the port asked for."""
        env = dict(env)
        services = env.get("SERVICES")
        if services is not None and not re.search(r"\b(jupyter|all)\b", services, re.I):
            env["SERVICES"] = f"{services},jupyter"
        if self.port is not None:
            env["JUPYTER_PORT"] = self.port
        return env


def _words(args: list[str]) -> tuple[str, list[str]] | None:
    for n in (2, 1):
        name = tuple(os.path.basename(a) if i == 0 else a for i, a in enumerate(args[:n]))
        if name in SERVERS:
            return SERVERS[name], args[n:]
    return None


def jupyter_request(args: list[str]) -> JupyterRequest | None:
    """The request in `args`, or None when they ask for something else. Bad options: UsageError."""
    found = _words(args)
    if found is None:
        return None
    default_url, rest = found
    if any(a.split("=", 1)[0] in INFO for a in rest):
        return None
    port = None
    options = []
    i = 0
    while i < len(rest):
        if not rest[i].startswith("-"):
            return None  # a subcommand or a file: not a server start
        option = values.text("command option", rest[i], what="an option")
        name, has_value, value = option.partition("=")
        if name in ("--port", "--ip") and not has_value:
            # `--port 8888`: the value is the next word.
            if i + 1 >= len(rest):
                raise UsageError(name, "", "no value", "--port=NUMBER" if name == "--port" else "--ip=ADDRESS")
            i += 1
            value = values.text(name, rest[i], what="a value")
        i += 1
        if name == "--port":
            port = str(parse_port("--port", value))
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
    return JupyterRequest(default_url, port, tuple(options))
