"""The types every layer shares: a service as the registry declares it, the notebook account, and
the validated settings of one start. Data only: nothing here reads the environment or a file."""

from __future__ import annotations

import pwd
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from healthchecks.state import Liveness

from .paths import Paths

__all__ = ["Liveness"]  # the registry's, as the state file carries it (healthchecks.state)


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


class FrontDoor(Protocol):
    """A command that asks for the front door's server (it becomes the supervised one, not a second)."""

    @property
    def whole(self) -> bool:
        """Its environment applies even with no command (a Hub's start, known by its variables)."""

    def env(self, env: dict[str, str]) -> dict[str, str]:
        """The environment that gives it (the service enabled, the port it asked for...)."""

    def shape(self, env: Mapping[str, str]) -> dict[str, str]:
        """The environment that gives its options' port and base URL, without enabling it (the
        options came in a variable alone, with no command)."""

    def apply(self, settings: Settings) -> Settings:
        """The settings once it is taken in."""


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
    # Its other variables, for the README: name -> (default, "" for none; meaning). Validated by
    # its own_settings (entrypoint.settings calls it).
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
    # (settings, enabled, paths) -> None, run before supervisord starts: the files it needs.
    preparer: Callable[[Settings, Enabled, Paths], None] | None = None
    # (env, Context) -> its own settings: checks its own variables (at every start, enabled or not:
    # a typo is a typo; raising UsageError) and gives what its template and preparer read as
    # settings.own[name][key].
    own_settings: Callable[[Mapping[str, str], Context], dict[str, Any]] | None = None
    # (settings, enabled) -> the lines it says once at start.
    notices: Callable[[Settings, Enabled], list[str]] | None = None
    # (settings, enabled, paths) -> variables its daemon gets besides supervisord's own environment
    # (a notebook user's daemon gets HOME in any case; entrypoint.render).
    environment: Callable[[Settings, Enabled, Paths], dict[str, str]] | None = None
    # (settings, enabled, paths) -> (URL, FILE) or None: the login URL that `deepdocker-health` at a
    # terminal shows, completed with FILE's contents (its token).
    login_url: Callable[[Settings, Enabled, Paths], tuple[str, str] | None] | None = None
    # (command words, env) -> what a command asks of this service, or None: the front door's
    # (Jupyter's `jupyter notebook ...`, docker-stacks' start-notebook.py), see FrontDoor.
    front_door: Callable[[list[str], Mapping[str, str]], FrontDoor | None] | None = None
    # (paths) -> the service's own files under the run dir, for its template (`files`) and functions.
    files: Callable[[Paths], Any] | None = None
    # Where it comes in the registry (SERVICES, the README's tables, the image's build steps).
    order: int = 50
    # Started when SERVICES is unset (and installed).
    default: bool = False
    summary: str = ""
    # For the README's security table: what protects its own login, and what opens it up.
    login: str = ""
    open_up: str = ""
    # None: no liveness restarts (a listening socket says nothing about a hung sshd: the
    # kernel accepts its connections).
    liveness: Liveness | None = Liveness()  # noqa: RUF009 (frozen: one shared default is safe)
    # The container lives for it: `deepdocker-health --live` (the HEALTHCHECK) looks at the
    # essential services alone where one is enabled (a restarting TensorBoard must not get a
    # healthy lab killed), and in hub mode its end ends the container (deepdocker_supervisor.extension).
    essential: bool = False


@dataclass(frozen=True)
class SharedFolder:
    """What to do with SHARED_DIR at start; decided here, done by prepare (nothing is written here).

    action "ok": the notebook user can write it. "adopt": an empty folder that belongs to root
    (Docker made it for a `-v` mount): give it to the notebook user. "warn": start anyway and say
    `note`; its files are never re-owned.
    """

    path: str
    action: str
    note: str = ""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str
    # True: NB_USER's UID/GID must be changed to uid/gid at start (root only).
    remap: bool = False
    # The image's account to rename to `name` at start (root only; NB_USER a new name).
    rename_from: str | None = None
    # NB_GROUP: the name the account's group (gid) gets at start (root only).
    group: str | None = None
    # False: an arbitrary UID with no passwd entry; it borrows `name`'s through nss_wrapper.
    passwd: bool = True
    # True: started as root, but /etc cannot be written (docker run --read-only): the renamed or
    # remapped entry and its group are served to every daemon by nss_wrapper instead.
    nss: bool = False

    @property
    def is_root(self) -> bool:
        return self.uid == 0


@dataclass(frozen=True)
class Stacks:
    umask: int | None = None
    grant_sudo: bool = False
    chown_home: bool = False
    chown_home_recursive: bool = False
    chown_extra: tuple[str, ...] = ()
    chown_extra_recursive: bool = False
    gen_cert: bool = False
    unset: tuple[str, ...] = ()
    restartable: bool = False


@dataclass(frozen=True)
class Hub:
    user: str
    prefix: str
    # From JUPYTERHUB_SERVICE_URL: the port, and the address ("" for every address).
    port: str | None
    bind: str


@dataclass(frozen=True)
class Enabled:
    """One enabled service, resolved for this start."""

    service: Service
    exe: str
    port: int
    # The account it runs as; None: the account that started deepdocker.
    user: str | None
    home: str
    # The address it listens on.
    bind: str
    # False: no login of its own, so loopback only, behind Jupyter's (see Service.public_var).
    public: bool
    # Not spawned at start: Jupyter's proxy starts it on its first request (Service.on_demand).
    on_demand: bool = False
    # Its own login is on: a public service with one (Service.secrets), unless auth_off_var or hub
    # mode turned it off.
    own_login: bool = False

    @property
    def local_address(self) -> str:
        """Where a local probe (or Jupyter's proxy) connects to it."""
        if self.bind in ("", "0.0.0.0"):
            return "127.0.0.1"
        if self.bind == "::":
            return "::1"
        return self.bind

    @property
    def proxied(self) -> bool:
        """Served at /<name>/ behind Jupyter's login (jupyter-server-proxy): one with no login of its
        own, unless published with a login of its own (Service.public_var and Service.secrets)."""
        return not self.public or (self.service.public_var is not None and not self.own_login)


@dataclass(frozen=True)
class Context:
    """What a service's own settings (Service.own_settings) are checked against."""

    enabled: bool
    is_root: bool
    account: Account
    run_dir: Path
    notebook_dir: str


@dataclass(frozen=True)
class Settings:
    run_dir: Path
    # "": every address, IPv4 and IPv6 (DEEPDOCKER_BIND unset).
    bind: str
    enabled: tuple[Enabled, ...]
    account: Account
    # HOME for the notebook daemons: the account's home, or one under the run dir
    # when that is not writable (an arbitrary `docker run --user` UID).
    nb_home: str
    notebook_dir: str
    # The registry's secrets (Service.secrets) that are set or were generated, by variable.
    secrets: Mapping[str, str]
    # Those made up here, to be shown once.
    generated: tuple[str, ...]
    jupyter_base_url: str
    # Each registry service's own settings (Service.own_settings), by name.
    own: Mapping[str, Mapping[str, Any]]
    on_fatal: str
    is_root: bool
    # The registry's folder variables (Service.folders), resolved: var -> absolute path.
    folders: Mapping[str, str] = field(default_factory=dict)
    # Liveness restarts of hung daemons (deepdocker_supervisor.watchdog); DEEPDOCKER_LIVENESS=false turns them off.
    liveness: bool = True
    shared: SharedFolder | None = None
    # What a person should know of this machine, said at start and by deepdocker-health.
    notes: tuple[str, ...] = ()
    # JupyterHub's single-user server (entrypoint.services.jupyter.hub): the Hub's login, prefix and port.
    hub: Hub | None = None
    # docker-stacks' start-up variables (entrypoint.stacks.options).
    stacks: Stacks = field(default_factory=Stacks)
    # The notebook user's layer in their home (entrypoint.userlayer), made at start; "": none.
    user_layer: str = ""

    @property
    def nb_user(self) -> str:
        return self.account.name

    @property
    def me(self) -> str:
        """Whoever runs supervisord; a `docker run --user` UID may have no name."""
        return "root" if self.is_root else self.account.name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.service.name for e in self.enabled)

    @property
    def essential(self) -> tuple[str, ...]:
        """The enabled services the container lives for (Service.essential)."""
        return tuple(e.service.name for e in self.enabled if e.service.essential)

    def secret(self, var: str) -> str:
        return self.secrets.get(var, "")

    def get(self, name: str) -> Enabled | None:
        return next((e for e in self.enabled if e.service.name == name), None)

    def ids(self, user: str) -> tuple[int, int]:
        """A daemon user's UID and GID: the notebook user's are the account's (nss_wrapper may
        serve them where /etc/passwd holds other ones); any other user's, /etc/passwd's."""
        if user == self.account.name:
            return self.account.uid, self.account.gid
        entry = pwd.getpwnam(user)
        return entry.pw_uid, entry.pw_gid
