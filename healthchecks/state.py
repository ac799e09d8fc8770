"""The health-state contract: what a start tells deepdocker-health about itself.

deepdocker-entrypoint writes it at every start (`entrypoint.prepare.state`, through `dumps`), as
`services.tsv` in the run dir; deepdocker-health and supervisord's extension (its liveness
watchdog) read it (through `load`). This module is the one place that knows the format. It imports
nothing: Docker's HEALTHCHECK runs a probe every 5 s, and each one reads this file.

The file: one record per line, fields separated by tabs (no field holds a tab or a newline: the
entrypoint validates every value before it gets here):

    socket   PATH                                      supervisord's control socket
    NAME     PROBE HOST PORT TARGET START              one per enabled service (ServiceState)
    note     TEXT                                      something a person should know about this start
    live     NAME                                      a service the liveness view looks at
    login    NAME URL FILE                             a service's login URL, completed with FILE's
                                                       contents (its token) by one who may read it
    user     NAME UID GID HOME                         the notebook user (root's deepdocker-health
                                                       runs the user's Python as this user alone)
    liveness NAME INTERVAL FAILURES GRACE RESTARTS WINDOW TIMEOUT KILL_AFTER
                                                       a service's liveness rules (Liveness), which
                                                       supervisord's watchdog applies
    layer    PATH                                      the notebook user's layer (entrypoint.userlayer)
"""

from __future__ import annotations

FILE = "services.tsv"
# Record kinds: no service may take one of these names.
KINDS = ("socket", "note", "live", "login", "user", "liveness", "layer")
PROBES = ("http", "https", "listen")
STARTS = ("now", "on-demand")


class Liveness:
    """When a daemon that answered its probe stops answering, it is hung: restart it.

    Looked at every second from its start until it first answers its probe, then every
    `interval` seconds. `failures` failed probes in a row restart it: SIGTERM and SIGCONT to its
    process group, SIGKILL `kill_after` seconds later. Until its first answer, failures count
    only once `grace` seconds have passed since its start (a slow start is not a hang; under
    load TensorBoard has needed 30 s). More than `restarts` such restarts within `window`
    seconds make it FATAL (then DEEPDOCKER_ON_FATAL decides). A probe slower than `timeout` is a
    failed one; under full load Jupyter answers /api in well under 1 s.

    The registry declares one per service (Service.liveness); the start writes it here, for
    supervisord's watchdog, which needs no registry of its own.
    """

    __slots__ = ("failures", "grace", "interval", "kill_after", "restarts", "timeout", "window")

    def __init__(
        self,
        interval: float = 10.0,
        failures: int = 3,
        grace: float = 60.0,
        restarts: int = 3,
        window: float = 600.0,
        timeout: float = 3.0,
        kill_after: float = 2.0,
    ) -> None:
        self.interval, self.failures, self.grace, self.restarts = interval, failures, grace, restarts
        self.window, self.timeout, self.kill_after = window, timeout, kill_after

    def fields(self) -> tuple[float, int, float, int, float, float, float]:
        return (self.interval, self.failures, self.grace, self.restarts, self.window, self.timeout, self.kill_after)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Liveness) and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        return f"Liveness{self.fields()!r}"


class ServiceState:
    """How to reach one enabled service: its probe ("http", "https" or "listen"), the address and
    port to probe, the HTTP path ("-" for "listen"), and whether it starts "now" or "on-demand"
    (spawned by its first request through Jupyter)."""

    __slots__ = ("host", "name", "port", "probe", "start", "target")

    def __init__(self, name: str, probe: str, host: str, port: int, target: str, start: str) -> None:
        self.name, self.probe, self.host, self.port, self.target, self.start = name, probe, host, port, target, start

    def fields(self) -> tuple[str, str, str, int, str, str]:
        return (self.name, self.probe, self.host, self.port, self.target, self.start)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServiceState) and self.fields() == other.fields()

    def __repr__(self) -> str:
        return f"ServiceState{self.fields()!r}"


class State:
    """One start: supervisord's socket, the enabled services by name (in order), the notes, and the
    services the liveness view looks at (none named: all of them), and the logins: (name, URL, the
    file whose contents complete the URL)."""

    __slots__ = ("layer", "live", "liveness", "logins", "notes", "services", "socket", "user")

    def __init__(
        self,
        socket: str,
        services: dict[str, ServiceState] | None = None,
        notes: list[str] | None = None,
        live: list[str] | None = None,
        logins: list[tuple[str, str, str]] | None = None,
        user: tuple[str, int, int, str] | None = None,
        liveness: dict[str, Liveness] | None = None,
        layer: str = "",
    ) -> None:
        self.socket = socket
        self.services = services if services is not None else {}
        self.notes = notes if notes is not None else []
        self.live = live if live is not None else []
        self.logins = logins if logins is not None else []
        self.user = user
        self.liveness = liveness if liveness is not None else {}
        self.layer = layer

    def __eq__(self, other: object) -> bool:
        return isinstance(other, State) and self.fields() == other.fields()

    def fields(self) -> tuple:
        return (self.socket, self.services, self.notes, self.live, self.logins, self.user, self.liveness, self.layer)

    def __repr__(self) -> str:
        return f"State{self.fields()!r}"


def dumps(state: State) -> str:
    """The file's text for `state`; ValueError for a field the format cannot hold."""
    records: list[tuple[object, ...]] = [("socket", state.socket)]
    records += [("live", name) for name in state.live]
    records += [("note", text) for text in state.notes]
    records += [("login", *login) for login in state.logins]
    if state.user is not None:
        records.append(("user", *state.user))
    records += [("liveness", name, *live.fields()) for name, live in state.liveness.items()]
    if state.layer:
        records.append(("layer", state.layer))
    for s in state.services.values():
        if s.name in KINDS or s.probe not in PROBES or s.start not in STARTS:
            raise ValueError(f"not a service record: {s!r}")
        records.append(s.fields())
    lines = []
    for record in records:
        fields = [str(f) for f in record]
        if any("\t" in f or "\n" in f or "\r" in f or not f for f in fields):
            raise ValueError(f"a field the state file cannot hold: {record!r}")
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def loads(text: str) -> State:
    """The state in `text`; lines of a kind it does not know are skipped (a newer writer's)."""
    state = State("")
    # Split at newlines alone: str.splitlines() also splits at \f, \v, \x1c-\x1e, \x85, \u2028...
    for line in text.split("\n"):
        fields = line.split("\t")
        kind = fields[0]
        if kind == "socket" and len(fields) == 2:
            state.socket = fields[1]
        elif kind == "note" and len(fields) == 2:
            state.notes.append(fields[1])
        elif kind == "layer" and len(fields) == 2:
            state.layer = fields[1]
        elif kind == "live" and len(fields) == 2:
            state.live.append(fields[1])
        elif kind == "login" and len(fields) == 4:
            state.logins.append((fields[1], fields[2], fields[3]))
        elif kind == "user" and len(fields) == 5 and fields[2].isdigit() and fields[3].isdigit():
            state.user = (fields[1], int(fields[2]), int(fields[3]), fields[4])
        elif kind == "liveness" and len(fields) == 9:
            try:
                n = [float(f) for f in fields[2:]]
            except ValueError:
                continue
            state.liveness[fields[1]] = Liveness(n[0], int(n[1]), n[2], int(n[3]), n[4], n[5], n[6])
        elif len(fields) == 6 and fields[3].isdigit():
            name, probe, host, port, target, start = fields
            state.services[name] = ServiceState(name, probe, host, int(port), target, start)
    return state


def load(directory: str) -> State:
    """The state of the start whose run dir is `directory`; OSError when there is none."""
    with open(f"{directory}/{FILE}") as f:
        return loads(f.read())
