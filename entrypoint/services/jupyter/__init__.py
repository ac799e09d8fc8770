"""jupyter: JupyterLab (Notebook 7 at /tree), the front door. The other services sit behind its login
(jupyter-server-proxy), and in hub mode it is JupyterHub's single-user server (hub). Its command
line (`jupyter notebook`, docker-stacks' start-notebook) is read by `command`; its login is pinned
(login, guard) whatever config the notebook user writes (config_scan names such files)."""

from __future__ import annotations

import importlib.resources
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.files import chown, fresh_dir, write_file
from ...core.model import Context, Enabled, Probe, Secret, Service, Settings
from ...core.paths import Paths
from . import command, config_scan
from .login import hash_password, login_pins

# How long Jupyter's proxy holds a first request to an on-demand service while it starts
# (TensorBoard needs ~3 s alone, ~30 s with 8 containers starting on 2 cores).
WAKE_TIMEOUT = 60


@dataclass(frozen=True)
class Files:
    """Jupyter's folder in the run dir: its runtime folder (the notebook user's), its login (root's)."""

    paths: Paths

    @property
    def dir(self) -> Path:
        return self.paths.run_dir / "jupyter"

    @property
    def token(self) -> Path:
        return self.dir / "token"

    @property
    def config(self) -> Path:
        """In a folder of its own on JUPYTER_CONFIG_PATH: `--config` would hide every other config file."""
        return self.dir / "config" / "jupyter_server_config.json"

    @property
    def cert(self) -> Path:
        """GEN_CERT's self-signed certificate, and its key beside it."""
        return self.dir / "cert.pem"

    @property
    def key(self) -> Path:
        return self.dir / "key.pem"

    @property
    def runtime(self) -> Path:
        return self.dir / "runtime"


def own_settings(env: Mapping[str, str], context: Context) -> dict[str, Any]:
    """The page it opens on and its extra options: a command's (`jupyter notebook ...`), set by
    command.JupyterRequest.apply."""
    return {"default_url": "", "options": ()}


def config(settings: Settings, e: Enabled) -> dict:
    password = settings.secret("JUPYTER_PASSWORD")
    hashed = hash_password(settings, e.exe, password) if password else ""
    config: dict = login_pins(settings, e, hashed, Files(Paths(settings.run_dir)).config.parent / "cookie_secret")
    # Services with no login of their own, behind Jupyter's at /<name>/ (jupyter-server-proxy).
    servers = {}
    for other in settings.enabled:
        if not other.proxied:
            continue
        server: dict = {"port": other.port, "absolute_url": False, "launcher_entry": {"title": other.service.summary}}
        if other.on_demand:
            # The proxy runs this before the first request and waits (up to `timeout`) until the
            # port answers; the program, waiting on its FIFO, starts (entrypoint.wake).
            wake = Paths(settings.run_dir).wake_fifo(other.service.name)
            server["command"] = [sys.executable, "-I", "-m", "entrypoint.wake", str(wake), other.service.name]
            server["timeout"] = WAKE_TIMEOUT
        servers[other.service.name] = server
    if servers:
        config["ServerProxy"] = {"servers": servers}
    return config


def prepare(settings: Settings, e: Enabled, paths: Paths) -> None:
    """Jupyter's folder: its runtime folder the notebook user's; its login (token, password hash,
    cookie secret, the pinned login settings, the guard) root's, readable by the user's group,
    written afresh at every start. Nothing the notebook user can write decides who gets in."""
    files = Files(paths)
    fresh_dir(files.dir, 0o711 if e.user else 0o700)
    config_dir = files.config.parent
    files.runtime.mkdir(0o700)
    config_dir.mkdir(0o750 if e.user else 0o700)
    group = settings.account.gid if e.user else None
    secret = 0o640 if e.user else 0o600
    # Read through JUPYTER_TOKEN_FILE and JUPYTER_CONFIG_PATH: no secret in argv or supervisord.conf.
    write_file(files.token, settings.secret("JUPYTER_TOKEN"), secret, group=group)
    write_file(config_dir / "cookie_secret", secrets.token_hex(32), secret, group=group)
    write_file(files.config, json.dumps(config(settings, e), indent=1), secret, group=group)
    guard = importlib.resources.files(__name__).joinpath("guard.py").read_text()
    write_file(config_dir / "jupyter_server_config.py", guard, 0o644)
    kernel_guard = [sys.executable, "-I", "-m", "entrypoint.kernel_guard"]
    write_file(config_dir / "kernel_guard.json", json.dumps(kernel_guard), 0o644)
    if settings.stacks.gen_cert:
        make_cert(settings, e, paths, group)
    if e.user:
        os.chown(config_dir, 0, settings.account.gid)
        chown(files.runtime, settings.ids(e.user))


def environment(settings: Settings, e: Enabled, paths: Paths) -> dict[str, str]:
    """deepdocker's config folder first on JUPYTER_CONFIG_PATH (read last, so it wins); the user's and
    the image's are still read. In hub mode the Hub's login (its JUPYTERHUB_* variables) replaces the token."""
    files = Files(paths)
    env = {"JUPYTER_CONFIG_PATH": str(files.config.parent)}
    if not settings.hub:
        env["JUPYTER_TOKEN_FILE"] = str(files.token)
    env["JUPYTER_RUNTIME_DIR"] = str(files.runtime)
    return env


def login_url(settings: Settings, e: Enabled, paths: Paths) -> tuple[str, str] | None:
    """Its URL with the token left off, and the token's file; none behind the Hub or with a password alone."""
    files = Files(paths)
    if settings.hub or not settings.secret("JUPYTER_TOKEN"):
        return None
    page = (settings.own["jupyter"]["default_url"] or "/lab").lstrip("/")
    scheme = "https" if settings.stacks.gen_cert else "http"
    url = f"{scheme}://{e.local_address}:{e.port}{settings.jupyter_base_url}{page}?token="
    return url, str(files.token)


def notices(settings: Settings, e: Enabled) -> list[str]:
    prefix = os.path.dirname(os.path.dirname(e.exe))
    found = config_scan.notice(config_scan.login_settings(settings.account, e.home, (prefix,)))
    lines = [found] if found else []
    if settings.hub:
        who = settings.hub.user or "its user"
        where = settings.jupyter_base_url
        return [*lines, f"JupyterHub single-user server for {who} at {where}, behind the Hub's login"]
    login = login_url(settings, e, Paths(settings.run_dir))
    if "JUPYTER_TOKEN" not in settings.generated or not login:
        return lines
    # Shown once, here; JUPYTER_TOKEN or JUPYTER_TOKEN_FILE choose a fixed one.
    token = settings.secret("JUPYTER_TOKEN")
    return [*lines, f"Jupyter token (generated, shown once): {token}  {login[0]}{token}"]


def make_cert(settings: Settings, e: Enabled, paths: Paths, group: int | None) -> None:
    """GEN_CERT: a self-signed certificate of this container's own, made at every start (root's,
    readable by the notebook user's group)."""
    files = Files(paths)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "365", "-subj", "/CN=deepdocker", "-keyout", str(files.key),
         "-out", str(files.cert)],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.chmod(files.key, 0o640 if group is not None else 0o600)
    if group is not None:
        for f in (files.key, files.cert):
            os.chown(f, -1, group)


SERVICE = Service(
    name="jupyter",
    program="jupyter-lab",
    port_var="JUPYTER_PORT",
    default_port=8888,
    # /api answers without a token, and only once the server is serving.
    probe=Probe("http", path="api"),
    secrets=(
        Secret(
            "JUPYTER_TOKEN",
            generate=True,
            unless="JUPYTER_PASSWORD",
            doc="Jupyter's token, 8 to 4096 printable characters without spaces",
        ),
        Secret(
            "JUPYTER_PASSWORD",
            password=True,
            doc="a password login for Jupyter, stored only as Jupyter's argon2 hash; with no token "
            "given, it replaces the token",
        ),
    ),
    knobs={
        "JUPYTER_BASE_URL": (
            "`/`",
            "Jupyter's base URL, e.g. `/user/me/` (letters, digits, `._~-`; no `.` or `..` parts; at most "
            "512 characters)",
        ),
        "NOTEBOOK_DIR": (
            "the notebook user's home",
            "Jupyter's root folder (must exist, and the notebook user must be able to open it)",
        ),
    },
    under_base_url=True,
    tls=True,
    preparer=prepare,
    notices=notices,
    environment=environment,
    login_url=login_url,
    own_settings=own_settings,
    front_door=command.jupyter_request,
    files=Files,
    order=10,
    default=True,
    summary="JupyterLab server, Notebook 7 at `/tree`",
    login="a token (`JUPYTER_TOKEN`, `JUPYTER_TOKEN_FILE`, or random per start and printed once) or a "
    "password (`JUPYTER_PASSWORD`, `JUPYTER_PASSWORD_FILE`, kept as an argon2 hash)",
    open_up="there is no switch for no login",
    essential=True,
)
