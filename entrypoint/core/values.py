"""What any value may hold before it reaches a config file, a command line or a path.

supervisord.conf is an INI file: a newline in a value starts a line of config of its own, and
" ;" or " #" starts a comment that cuts the value short; its environment= lists cannot hold a
double quote. So no control character gets past here, nor those sequences where a value goes
into that file. Values that came from bytes that are not UTF-8 (Python keeps them as lone
surrogates) are refused too: no file format here can hold them.
"""

from __future__ import annotations

import os
import re

from .errors import UsageError

# C0 controls, DEL, C1 controls, and the surrogates os.environ uses for undecodable bytes.
_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_COMMENT = re.compile(r"\s[;#]")
# Folders deepdocker writes its own files into, named in several config syntaxes (INI,
# sshd_config, environment lists): plain characters only.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/+@~-]*")
# A path longer than PATH_MAX cannot be opened anyway; other values have no use for more.
MAX_PATH = 4096
MAX_TEXT = 4096


class UnsafeValue(ValueError):
    """A value reached a config file that validation should have refused: a bug, never config."""


def problem(raw: str) -> str | None:
    """Why `raw` cannot be written into any config line, or None."""
    bad = _BAD.search(raw)
    if bad:
        char = bad.group()
        return "a byte that is not UTF-8" if "\ud800" <= char <= "\udfff" else f"a control character ({char!r})"
    return None


def ini_problem(raw: str) -> str | None:
    """Why `raw` cannot be one value of supervisord.conf, whole, or None."""
    return problem(raw) or ('" ;" or " #", which start a comment there' if _COMMENT.search(raw) else None)


def text(var: str, raw: str, *, limit: int = MAX_TEXT, secret: bool = False, what: str = "text") -> str:
    found = problem(raw)
    if found:
        raise UsageError(var, raw, f"contains {found}", f"{what} of printable UTF-8 characters", secret)
    if len(raw) > limit:
        raise UsageError(var, raw, f"{len(raw)} characters long", f"{what} of at most {limit} characters", secret)
    return raw


def config(var: str, raw: str, *, limit: int = MAX_TEXT, what: str = "text") -> str:
    """A value that goes into supervisord.conf."""
    text(var, raw, limit=limit, what=what)
    if ini_problem(raw) or '"' in raw:
        raise UsageError(var, raw, 'contains \'"\', " ;" or " #"', f"{what} without those (supervisord.conf syntax)")
    if raw != raw.strip():
        raise UsageError(var, raw, "begins or ends with white space", f"{what} without (supervisord.conf drops it)")
    return raw


def path(var: str, raw: str) -> str:
    """An absolute path that goes into supervisord.conf."""
    config(var, raw, limit=MAX_PATH, what="an absolute path")
    if not os.path.isabs(raw):
        raise UsageError(var, raw, "not an absolute path", "an absolute path, e.g. /home/jovyan/work")
    return raw


def plain_path(var: str, raw: str) -> str:
    """A folder deepdocker writes into and names in config files: a plain absolute path."""
    text(var, raw, limit=MAX_PATH, what="an absolute path")
    if not _PLAIN_PATH.fullmatch(raw) or "/../" in f"{raw}/":
        raise UsageError(var, raw, "not a plain absolute path", "an absolute path of letters, digits and ._/+@~-")
    return raw


def switch(var: str, raw: str | None, accepted: str = "true or false (also 1/0, yes/no)") -> bool:
    """A yes/no variable: 1/true/yes/on, or 0/false/no/off/empty; unset is no."""
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(var, raw, "not a yes/no value", accepted)


def parse_port(var: str, raw: str) -> int:
    if not re.fullmatch(r"\d{1,5}", raw.strip()):
        raise UsageError(var, raw, "not a port number", "an integer from 1 to 65535")
    port = int(raw)
    if not 1 <= port <= 65535:
        raise UsageError(var, raw, "port out of range", "an integer from 1 to 65535")
    return port


MAX_BASE_URL = 512


def base_url(var: str, raw: str) -> str:
    """A URL path the server lives under (JUPYTER_BASE_URL, --ServerApp.base_url), with its final /."""
    url = raw if raw.endswith("/") else raw + "/"
    segments = url.strip("/").split("/") if url != "/" else []
    if (
        len(url) > MAX_BASE_URL
        or not re.fullmatch(r"/([A-Za-z0-9._~-]+/)*", url)
        or any(seg in (".", "..") for seg in segments)
    ):
        accepted = f"a path such as / or /user/me/ (letters, digits, ._~-; no . or .. parts; at most {MAX_BASE_URL})"
        raise UsageError(var, raw, "not a URL path", accepted)
    return url
