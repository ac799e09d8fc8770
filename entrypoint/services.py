"""The registry: every service deepdocker can run, as data.

Adding a service means one entry here and one `supervisor/programs/<name>.conf.j2`
that holds its command line. Everything else (SERVICES parsing, ports, users,
supervisord settings, health probes, docs tables) is derived from these entries.
"""

from __future__ import annotations

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
    # A service with no login of its own names the variable that publishes it. Until
    # that says true it listens on loopback only, reached at /<name>/ behind Jupyter's login.
    public_var: str | None = None
    # Behind Jupyter's login (not public), not spawned at start: the first request to /<name>/
    # starts it through supervisord and waits until it answers (entrypoint.wake). Then it is
    # supervised like any other. DEEPDOCKER_ON_DEMAND=false starts it at once.
    on_demand: bool = False
    # Environment variables (besides the port) this service reads, with defaults,
    # for the README's table. The template does the reading.
    knobs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
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
            knobs={
                "JUPYTER_TOKEN": "random per start, printed once",
                "JUPYTER_BASE_URL": "/",
                "NOTEBOOK_DIR": "the notebook user's home",
            },
            summary="JupyterLab server (Notebook 7 UI at /tree)",
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
            knobs={"TENSORBOARD_LOGDIR": "$NOTEBOOK_DIR/logs"},
            summary="TensorBoard",
        ),
        Service(
            name="rstudio",
            program="rserver",
            port_var="RSTUDIO_PORT",
            default_port=8787,
            probe=Probe("http", path="/health-check"),
            runs_as="root",
            search_dirs=("/usr/lib/rstudio-server/bin",),
            summary="RStudio Server (rserver)",
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
            knobs={"SSH_AUTHORIZED_KEYS": "(none)", "SSH_HOST_KEY_DIR": "$DEEPDOCKER_RUN_DIR/sshd"},
            summary="OpenSSH server, key login only",
        ),
    )
}

# What an unset SERVICES starts: the notebook and its dashboard. sshd and RStudio
# need credentials set up by the user to be useful, so they are opt-in.
DEFAULT_SERVICES = ("jupyter", "tensorboard")
