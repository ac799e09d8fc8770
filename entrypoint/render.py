"""Settings -> supervisord.conf text, through the Jinja2 templates in supervisor/.

They are package data of `entrypoint` (entrypoint/templates links to supervisor/; setup.cfg takes
every *.j2 there), loaded as installed packages load data, so the checkout and the image read the
same files the same way.
"""

from __future__ import annotations

import shlex

import jinja2

from . import values
from .paths import Paths
from .settings import Settings


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


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("entrypoint", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["arg"] = _arg
    env.filters["env"] = _env
    env.filters["path"] = _path
    return env


def render(settings: Settings) -> str:
    template = environment().get_template("supervisord.conf.j2")
    return template.render(settings=settings, paths=Paths(settings.run_dir), me=settings.me)
