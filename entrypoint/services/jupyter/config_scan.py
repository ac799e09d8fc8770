"""Jupyter config files the notebook user can write that touch the login: named once at start.

deepdocker's own config pins every login setting and wins (entrypoint.services.jupyter.login,
entrypoint.services.jupyter.guard); a user's file that sets one of them is overruled, and a person should
know why their setting has no effect. Read as data only, and carefully (started as root, these are
the user's files): no link followed at the file, only regular files the user owns, a few KiB each.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from ...accounts import users

# Trait names (in any class) and tornado_settings keys that decide who gets in.
LOGIN_NAME = re.compile(
    r"token|password|xsrf|origin|credential|cookie|identity_provider|authorizer|login_handler|logout_handler|"
    r"allow_remote_access|local_hostnames|trust_xheaders|allow_unauthenticated|authenticate_prometheus|"
    r"tornado_settings",
    re.I,
)
FILE = re.compile(r"jupyter_(\w+_)?config\.(json|py)")
MAX_FILE = 256 * 1024


def config_dirs(home: str, prefixes: tuple[str, ...]) -> list[Path]:
    """Where Jupyter looks for config, besides deepdocker's own folder (jupyter_core.paths)."""
    dirs = [
        Path(os.environ.get("JUPYTER_CONFIG_DIR") or os.path.join(home, ".jupyter")),
        Path(home, ".local", "etc", "jupyter"),
    ]
    dirs += [Path(p, "etc", "jupyter") for p in prefixes]
    dirs += [Path("/usr/local/etc/jupyter"), Path("/etc/jupyter")]
    return list(dict.fromkeys(dirs))


def _read(path: Path, uid: int) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE or (uid != 0 and st.st_uid != uid):
            return None
        return os.read(fd, MAX_FILE).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def _json_names(text: str) -> list[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return ["(unreadable JSON)"]
    found = []
    if isinstance(data, dict):
        for section, body in data.items():
            if isinstance(body, dict):
                found += [f"{section}.{key}" for key in body if LOGIN_NAME.search(str(key))]
    return found


def login_settings(account: users.Account, home: str, prefixes: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """(file, the login settings it names) for each config file the notebook user can write."""
    found = []
    for folder in config_dirs(home, prefixes):
        if not folder.is_dir() or not users.writable_by(str(folder), account.uid, account.gid):
            continue
        files = [folder / n for n in sorted(os.listdir(folder)) if FILE.fullmatch(n)]
        for sub in sorted(folder.glob("jupyter_*config.d")):
            if sub.is_dir() and not sub.is_symlink():
                files += sorted(p for p in sub.iterdir() if p.suffix == ".json")
        for path in files:
            text = _read(path, account.uid)
            if text is None:
                continue
            names = _json_names(text) if path.suffix == ".json" else sorted(set(LOGIN_NAME.findall(text)))
            if names:
                found.append((str(path), names))
    return found


def notice(found: list[tuple[str, list[str]]]) -> str | None:
    if not found:
        return None
    files = "; ".join(f"{path}: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}" for path, names in found[:3])
    if len(found) > 3:
        files += f"; and {len(found) - 3} more file(s)"
    return (
        f"WARNING: Jupyter config the notebook user can write touches the login ({files}): "
        "deepdocker's login settings win over it (JUPYTER_TOKEN, JUPYTER_PASSWORD)"
    )
