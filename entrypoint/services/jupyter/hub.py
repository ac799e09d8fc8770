"""Hub mode: the image as a JupyterHub single-user server.

A Spawner (DockerSpawner, KubeSpawner, ...) keeps the image's ENTRYPOINT, replaces its command with
`jupyterhub-singleuser` (docker-stacks' configs: `start-singleuser.py`/`.sh`, or `start-notebook.*`
with the Hub's variables set) and hands everything over as `JUPYTERHUB_*` variables. That command
makes the supervised Jupyter the Hub's single-user server: the Hub's login (no token of
deepdocker's), its prefix as the base URL, its address and port; the other services sit under the
same prefix behind that login (`/user/NAME/tensorboard/`). Pure: reads env, writes nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from ...core import values
from ...core.errors import UsageError
from ...core.model import Enabled, Hub, Settings

PROGRAM = "jupyterhub-singleuser"
# What a Spawner sets (JupyterHub 5/6); each one deepdocker reads is checked.
VARIABLES = (
    "JUPYTERHUB_API_TOKEN",
    "JUPYTERHUB_SERVICE_PREFIX",
    "JUPYTERHUB_SERVICE_URL",
    "JUPYTERHUB_API_URL",
    "JUPYTERHUB_USER",
)


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


def hub_mode(settings: Settings, hub_settings: Hub) -> Settings:
    """Jupyter as the Hub's single-user server: its program, the Hub's login (no token of ours)."""
    jupyter = settings.get("jupyter")
    assert jupyter is not None  # the request enabled it
    exe = program(jupyter.exe)
    if exe is None:
        raise UsageError(
            "command",
            PROGRAM,
            f"JupyterHub's single-user server is not installed (no {PROGRAM} beside {jupyter.exe})",
            "an image with the jupyterhub package (deepdocker's has it)",
        )
    for e in settings.enabled:
        var = e.service.public_var
        if var and e.public:
            raise UsageError(
                var, "true", "JupyterHub starts this server: its services sit behind the Hub's login", "false or unset"
            )

    def behind_the_hub(e: Enabled) -> Enabled:
        if e is jupyter:
            return dataclasses.replace(e, exe=exe)
        if e.service.behind_hub:
            # Its own login off: on loopback, at PREFIX/<name>/ behind the Hub's (jupyter-server-proxy).
            return dataclasses.replace(e, bind="127.0.0.1", public=False, own_login=False)
        return e

    enabled = tuple(behind_the_hub(e) for e in settings.enabled)
    # The Hub's login replaces the ones made up for this start.
    kept = {var: value for var, value in settings.secrets.items() if var not in settings.generated}
    return dataclasses.replace(settings, enabled=enabled, hub=hub_settings, secrets=kept, generated=())
