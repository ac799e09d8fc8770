"""Hub mode: the image as a JupyterHub single-user server.

A Spawner (DockerSpawner, KubeSpawner, ...) keeps the image's ENTRYPOINT, replaces its command with
`jupyterhub-singleuser` (docker-stacks' configs: `start-singleuser.py`/`.sh`, or `start-notebook.*`
with the Hub's variables set) and hands everything over as `JUPYTERHUB_*` variables. That command
makes the supervised Jupyter the Hub's single-user server: the Hub's login (no token of
deepdocker's), its prefix as the base URL, its address and port; the other services sit under the
same prefix behind that login (`/user/NAME/tensorboard/`). Pure: reads env, writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import values
from .errors import UsageError

PROGRAM = "jupyterhub-singleuser"
# What a Spawner sets (JupyterHub 5/6); each one deepdocker reads is checked.
VARIABLES = (
    "JUPYTERHUB_API_TOKEN",
    "JUPYTERHUB_SERVICE_PREFIX",
    "JUPYTERHUB_SERVICE_URL",
    "JUPYTERHUB_API_URL",
    "JUPYTERHUB_USER",
)


@dataclass(frozen=True)
class Hub:
    user: str
    prefix: str
    # From JUPYTERHUB_SERVICE_URL: the port, and the address ("" for every address).
    port: str | None
    bind: str


def parse(env: Mapping[str, str]) -> Hub:
    for var in VARIABLES:
        if var in env:
            values.text(var, env[var], secret=var == "JUPYTERHUB_API_TOKEN")
    if not env.get("JUPYTERHUB_API_TOKEN"):
        raise UsageError(
            "JUPYTERHUB_API_TOKEN",
            "",
            "unset: not started by a JupyterHub",
            "a JupyterHub Spawner's start (it sets the JUPYTERHUB_* variables)",
        )
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    url = env.get("JUPYTERHUB_SERVICE_URL", "")
    port, bind = None, ""
    if url:
        try:
            parts = urlsplit(url)
            port = str(parts.port) if parts.port else None
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError("JUPYTERHUB_SERVICE_URL", url, "not a URL", "http://ADDRESS:PORT/PREFIX/")
        if parts.hostname not in ("0.0.0.0", "::", "*"):
            bind = parts.hostname
    return Hub(env.get("JUPYTERHUB_USER", ""), prefix, port, bind)


def program(jupyter_exe: str) -> str | None:
    """jupyterhub-singleuser beside the Jupyter that runs (the same environment), if installed."""
    candidate = os.path.join(os.path.dirname(jupyter_exe), PROGRAM)
    return candidate if os.access(candidate, os.X_OK) else None
