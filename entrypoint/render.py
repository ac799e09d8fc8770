"""Settings -> supervisord.conf text, through Jinja2 templates that are package data: the base one
of deepdocker_supervisor (supervisor/), and each service's program.conf.j2 in its own folder. They
are loaded as installed packages load data (importlib.resources), so the checkout and the image
read the same files the same way.
"""

from __future__ import annotations

import importlib.resources
import os
import shlex

import jinja2

from .accounts import users
from .core import values
from .core.model import Enabled, Settings
from .core.paths import Paths
from .services import PACKAGES

# Where root's own programs live when PATH names none of root's folders.
TRUSTED_FALLBACK = "/usr/sbin:/usr/bin:/sbin:/bin"


def _line(value: object) -> str:
    """What every filter starts with: text that stays on its own line of the INI file, whole."""
    text = str(value)
    if values.ini_problem(text):
        raise values.UnsafeValue(f"not validated before rendering: {text!r}")
    return text


def _arg(value: object) -> str:
    """One shell-quoted argument; '%' doubled since supervisord expands %(name)s."""
    return shlex.quote(_line(value)).replace("%", "%%")


def _path(value: object) -> str:
    """A path setting: taken verbatim by supervisord, apart from %-expansion and white space at its ends."""
    text = _line(value)
    if text != text.strip():
        raise values.UnsafeValue(f"not validated before rendering: {text!r}")
    return text.replace("%", "%%")


def _env(value: object) -> str:
    """A value for supervisord's environment= (KEY="value",...), split by a non-POSIX shlex
    that knows no escapes: a double quote cannot be written at all."""
    text = _line(value)
    if '"' in text:
        raise values.UnsafeValue(f"not validated before rendering: {text!r}")
    return '"' + text.replace("%", "%%") + '"'


# What an on-demand program's command runs first (the FIFO is $0): no " ;" (a comment in the INI file).
WAITER = (
    """/bin/sh -c 'test -e "$0.started" || { read -r _ < "$0" && : > "$0.started" && """
    """echo "deepdocker: starting on its first request" >&2;} && exec "$@"'"""
)


def _on_demand(body: str, fifo: object) -> str:
    """A program's command, waiting on `fifo` first (its template's text begins `command=`)."""
    if not body.startswith("command="):
        raise values.UnsafeValue(f"a program template that does not begin with its command: {body[:40]!r}")
    return f"command={WAITER} {_arg(fifo)}\n    {body[len('command=') :]}"


def _envlist(variables: dict[str, str]) -> str:
    """supervisord's environment= value: KEY="value",... (names are validated identifiers)."""
    return ",".join(f"{key}={_env(value)}" for key, value in variables.items())


def program_environment(settings: Settings, e: Enabled, paths: Paths) -> dict[str, str]:
    """What one daemon gets on top of supervisord's environment: its own variables (the registry's
    Service.environment), HOME for a notebook user's daemon, root's PATH for one that keeps root,
    and in hub mode an empty Hub token for every daemon but the single-user server."""
    env: dict[str, str] = {}
    if e.service.runs_as == "notebook":
        env["HOME"] = e.home
    elif settings.is_root:
        # Root's daemons find programs in root's folders alone (users.trusted_path).
        env["PATH"] = users.trusted_path(os.environ.get("PATH")) or TRUSTED_FALLBACK
    if e.service.environment:
        env.update(e.service.environment(settings, e, paths))
    if settings.hub and not e.service.essential:
        # supervisord hands its environment to all: the Hub's token is the single-user server's alone.
        env["JUPYTERHUB_API_TOKEN"] = ""
    return env


def _template(name: str) -> str | None:
    """`supervisord.conf.j2` (deepdocker_supervisor's), or `services/NAME/program.conf.j2` (the service's)."""
    if name == "supervisord.conf.j2":
        return importlib.resources.files("deepdocker_supervisor").joinpath(name).read_text()
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "services" and parts[1] in PACKAGES:
        return importlib.resources.files(PACKAGES[parts[1]]).joinpath(parts[2]).read_text()
    return None


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["arg"] = _arg
    env.filters["env"] = _env
    env.filters["path"] = _path
    env.filters["envlist"] = _envlist
    env.filters["on_demand"] = _on_demand
    return env


def render(settings: Settings) -> str:
    template = environment().get_template("supervisord.conf.j2")
    paths = Paths(settings.run_dir)
    environments = {e.service.name: program_environment(settings, e, paths) for e in settings.enabled}
    files = {e.service.name: e.service.files(paths) if e.service.files else None for e in settings.enabled}
    return template.render(
        settings=settings, paths=paths, me=settings.me, environments=environments, service_files=files
    )
