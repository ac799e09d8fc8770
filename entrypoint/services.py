"""The registry: every service deepdocker can run, as data.

Adding a service means one entry here and one `supervisor/programs/<name>.conf.j2` that holds
its command line (read with it: every setting the template uses is an attribute of `e`, the
enabled service, or of `settings`). Everything else is derived from these entries: SERVICES,
port and switch validation, the secrets read (VAR or VAR_FILE) and kept from every daemon's
environment, users, supervisord settings, the server-proxy entries behind Jupyter's login, the
health state and probes, the README's service and security tables (`python -m entrypoint.docs`;
a unit test fails when they disagree), and the ports the tests use. What a service checks of its
own variables, what it must do before it starts, and what it says once at start, are functions
named in its entry ("module:function"; entrypoint/prepare.py holds the present ones).

Jupyter is the front door by design: the others sit behind its login (jupyter-server-proxy), and
hub mode is JupyterHub's single-user Jupyter. Nothing else is named outside an entry, its
template and its functions.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Probe:
    """How to tell that a daemon is ready, not merely running.

    kind "http": an HTTP GET of `path` answered with a status below 500; a relative
    path is relative to the service's base URL.
    kind "listen": a TCP socket listening on the service's port (for daemons that log
    every connection, such as sshd).
    """

    kind: str
    path: str = "/"


@dataclass(frozen=True)
class Liveness:
    """When a daemon that answered its probe stops answering, it is hung: restart it.

    Looked at every second from its start until it first answers its probe, then every
    `interval` seconds. `failures` failed probes in a row restart it: SIGTERM and SIGCONT to its
    process group, SIGKILL `kill_after` seconds later. Until its first answer, failures count
    only once `grace` seconds have passed since its start (a slow start is not a hang; under
    load TensorBoard has needed 30 s). More than `restarts` such restarts within `window`
    seconds make it FATAL (then DEEPDOCKER_ON_FATAL decides).
    """

    interval: float = 10.0
    failures: int = 3
    grace: float = 60.0
    restarts: int = 3
    window: float = 600.0
    # A probe slower than this is a failed one; under full load Jupyter answers /api in well under 1 s.
    timeout: float = 3.0
    kill_after: float = 2.0


@dataclass(frozen=True)
class Secret:
    """A credential of the service's own: VAR, or the contents of the file VAR_FILE names (Docker and
    Kubernetes secrets). Never shown in an error, never handed to a daemon's environment, never in a
    command line or supervisord.conf: a preparer writes it to a file only the daemon's user can read."""

    var: str
    # A password may hold spaces; a token (it travels in URLs and headers) may not, and is 8 or more long.
    password: bool = False
    # Unset and the service's own login on: a random one for this start, shown once in the log.
    generate: bool = False
    # ...unless this other variable (or its _FILE) is set: it logs in instead.
    unless: str | None = None
    # For the README: what it is and what it may hold.
    doc: str = ""
    # Handed to the daemon in a file: while its login is on, written to
    # $DEEPDOCKER_RUN_DIR/secrets/<service>/<VAR> (0600, the daemon's user's) at every start; the
    # template names it as `paths.secret(e, VAR)`.
    in_file: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    # Executable looked up in `own_dirs` (an environment of its own), on PATH, then in `search_dirs`.
    program: str
    port_var: str
    default_port: int
    probe: Probe
    # "notebook": drops to NB_USER when started as root. "root": keeps root
    # (sshd and rserver switch to the logged-in user themselves).
    runs_as: str = "notebook"
    search_dirs: tuple[str, ...] = ()
    own_dirs: tuple[str, ...] = ()
    stopsignal: str = "TERM"
    # Seconds between SIGTERM and SIGKILL; deepdocker's stop budget is 1.5 s.
    stopwaitsecs: int = 5
    # Seconds a daemon must stay up before supervisord calls it RUNNING.
    startsecs: int = 1
    # A service with no login of its own, or one only once published (it declares `secrets`), names
    # the variable that publishes it. Until that says true it listens on loopback only, its own login
    # off, reached at /<name>/ behind Jupyter's login.
    public_var: str | None = None
    # Behind Jupyter's login (not public), not spawned at start: the first request to /<name>/
    # starts it through supervisord and waits until it answers (entrypoint.wake). Then it is
    # supervised like any other. DEEPDOCKER_ON_DEMAND=false starts it at once.
    on_demand: bool = False
    # Its own credentials (see Secret).
    secrets: tuple[Secret, ...] = ()
    # Its other variables, for the README: name -> (default, "" for none; meaning). Validated in entrypoint.settings.
    knobs: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Those of them that no daemon's environment gets (they are the entrypoint's).
    private_vars: tuple[str, ...] = ()
    # Variables naming a folder it serves: var -> (default under the notebook folder, meaning).
    # Checked as an absolute path; the template reads `settings.folders[var]`. Need not exist yet.
    folders: dict[str, tuple[str, str]] = field(default_factory=dict)
    # A switch that turns its own login off (a warning at every start).
    auth_off_var: str | None = None
    # Served under JUPYTER_BASE_URL: a relative probe path is relative to it.
    under_base_url: bool = False
    # Speaks HTTPS with GEN_CERT's certificate (the probe follows).
    tls: bool = False
    # Has a login of its own, which a JupyterHub single-user server turns off: it listens on loopback
    # and is served at PREFIX/<name>/ behind the Hub's login instead.
    behind_hub: bool = False
    # "module:function" (settings, enabled, paths) run before supervisord starts: the files it needs.
    preparer: str | None = None
    # "module:function" (env, Context) -> its own settings: checks its own variables (at every start,
    # enabled or not: a typo is a typo; raising settings.UsageError) and gives what its template and
    # preparer read as settings.own[name][key].
    own_settings: str | None = None
    # "module:function" (settings, enabled) -> the lines it says once at start.
    notices: str | None = None
    # "module:function" (settings, enabled, paths) -> variables its daemon gets besides supervisord's
    # own environment (a notebook user's daemon gets HOME in any case; entrypoint.render).
    environment: str | None = None
    # "module:function" (settings, enabled, paths) -> (URL, FILE) or None: the login URL that
    # `deepdocker-health` at a terminal shows, completed with FILE's contents (its token).
    login_url: str | None = None
    summary: str = ""
    # For the README's security table: what protects its own login, and what opens it up.
    login: str = ""
    open_up: str = ""
    # None: no liveness restarts (a listening socket says nothing about a hung sshd: the
    # kernel accepts its connections).
    liveness: Liveness | None = Liveness()
    # The container lives for it: `deepdocker-health --live` (the HEALTHCHECK) looks at the
    # essential services alone where one is enabled (a restarting TensorBoard must not get a
    # healthy lab killed), and in hub mode its end ends the container (entrypoint.supervisor_ext).
    essential: bool = False


REGISTRY: dict[str, Service] = {
    s.name: s
    for s in (
        Service(
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
            preparer="entrypoint.prepare:prepare_jupyter",
            notices="entrypoint.prepare:jupyter_notices",
            environment="entrypoint.prepare:jupyter_environment",
            login_url="entrypoint.prepare:jupyter_login",
            summary="JupyterLab server, Notebook 7 at `/tree`",
            login="a token (`JUPYTER_TOKEN`, `JUPYTER_TOKEN_FILE`, or random per start and printed once) or a "
            "password (`JUPYTER_PASSWORD`, `JUPYTER_PASSWORD_FILE`, kept as an argon2 hash)",
            open_up="there is no switch for no login",
            essential=True,
        ),
        Service(
            name="tensorboard",
            program="tensorboard",
            port_var="TENSORBOARD_PORT",
            default_port=6006,
            probe=Probe("http", path="/"),
            public_var="TENSORBOARD_PUBLIC",
            # Most sessions never open it, and it costs ~100 MiB idle: started on first use.
            on_demand=True,
            # Without TensorFlow to import (scripts/install-tensorboard.sh): ~200 MiB less.
            own_dirs=("/opt/deepdocker/tensorboard/bin",),
            knobs={"TENSORBOARD_LOGDIR": ("`$NOTEBOOK_DIR/logs`", "what TensorBoard shows (need not exist yet)")},
            own_settings="entrypoint.prepare:tensorboard_settings",
            summary="TensorBoard",
        ),
        Service(
            name="code",
            program="code-server",
            port_var="CODE_PORT",
            default_port=8443,
            probe=Probe("http", path="/healthz"),
            public_var="CODE_PUBLIC",
            secrets=(
                Secret(
                    "CODE_PASSWORD",
                    password=True,
                    generate=True,
                    in_file=True,
                    doc="VS Code's own password, asked for only when `CODE_PUBLIC=true` publishes its port",
                ),
            ),
            # Opened by few sessions, ~150 MiB once a window is open: started on first use.
            on_demand=True,
            # scripts/install-code.sh: code-server on a Node.js of its own.
            own_dirs=("/opt/deepdocker/code/bin",),
            summary="VS Code in the browser (code-server), opening the notebook folder",
        ),
        Service(
            name="shiny",
            program="shiny-apps",
            port_var="SHINY_PORT",
            default_port=3838,
            probe=Probe("http", path="/"),
            public_var="SHINY_PUBLIC",
            on_demand=True,
            # scripts/install-shiny.sh: Shiny Server where installed, else R's shiny package.
            own_dirs=("/opt/deepdocker/shiny/bin",),
            folders={"SHINY_APPS_DIR": ("shiny", "the Shiny app (R's shiny), or a folder of apps (Shiny Server)")},
            summary="Shiny apps (Shiny Server where installed, else R's shiny package)",
        ),
        Service(
            name="rstudio",
            program="rserver",
            port_var="RSTUDIO_PORT",
            default_port=8787,
            probe=Probe("http", path="/health-check"),
            runs_as="root",
            search_dirs=("/usr/lib/rstudio-server/bin",),
            secrets=(
                Secret(
                    "PASSWORD",
                    password=True,
                    generate=True,
                    doc="RStudio Server's password for `NB_USER` (rocker's names)",
                ),
            ),
            auth_off_var="DISABLE_AUTH",
            behind_hub=True,
            preparer="entrypoint.prepare:prepare_rstudio",
            notices="entrypoint.prepare:rstudio_notices",
            summary="RStudio Server (`rserver`)",
            login="`NB_USER`'s password (`PASSWORD`, `PASSWORD_FILE`, or random and printed once)",
            open_up="`DISABLE_AUTH=true`, which warns at every start",
        ),
        Service(
            name="sshd",
            program="sshd",
            port_var="SSHD_PORT",
            default_port=22,
            probe=Probe("listen"),
            runs_as="root",
            search_dirs=("/usr/sbin", "/usr/local/sbin"),
            liveness=None,
            knobs={
                "SSH_AUTHORIZED_KEYS": (
                    "",
                    "public keys allowed to log in over SSH (besides the user's `~/.ssh/authorized_keys`)",
                ),
                "SSH_HOST_KEY_DIR": (
                    "`$DEEPDOCKER_RUN_DIR/sshd`",
                    "where sshd's host key is made at first start; mount a volume here to keep it (an absolute "
                    "path of letters, digits and `._/+@~-`)",
                ),
            },
            private_vars=("SSH_AUTHORIZED_KEYS",),
            own_settings="entrypoint.prepare:sshd_settings",
            preparer="entrypoint.prepare:prepare_sshd",
            summary="OpenSSH, key login only",
            login="public keys only (`SSH_AUTHORIZED_KEYS`, checked at start, or the user's mounted "
            "`~/.ssh/authorized_keys`); no root login, no passwords; only `NB_USER` may log in",
            open_up="add keys; password and root logins cannot be switched on",
        ),
    )
}

# What an unset SERVICES starts: the notebook and its dashboard. sshd and RStudio
# need credentials set up by the user to be useful, so they are opt-in.
DEFAULT_SERVICES = ("jupyter", "tensorboard")


def hook(ref: str) -> Callable:
    """The function a "module:function" reference in an entry names."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def secrets() -> tuple[Secret, ...]:
    return tuple(secret for s in REGISTRY.values() for secret in s.secrets)


def private_vars() -> tuple[str, ...]:
    """Every variable read by the entrypoint that no daemon's environment gets: each secret, its
    _FILE variant, and the entries' private variables."""
    out = [v for secret in secrets() for v in (secret.var, f"{secret.var}_FILE")]
    return (*out, *(v for s in REGISTRY.values() for v in s.private_vars))
