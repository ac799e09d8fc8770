"""deepdocker's in-process extension of supervisord, loaded as an rpcinterface factory.

supervisord calls make_interface() once at start, inside its own process, before its
main loop. From there this module, through supervisor's hooks (the event bus, the asyncore
socket map, the poller: see deepdocker_supervisor.internals) and without patching supervisor's code:

* wakes the main loop on every signal (SIGCHLD, SIGTERM) through a wake-up pipe, and
  shortens its 1-second poll to the next moment a process changes state, so spawns,
  restarts and stops happen at once instead of on the next 1-second tick;
* sends SIGTERM to every program at once on shutdown, instead of one group per tick;
* writes each program's output to supervisord's stdout/stderr, each line prefixed
  with the program's name, without any log file;
* counts restarts and keeps each program's last output lines for deepdocker-health;
* backs off a program that keeps crashing after it reached RUNNING (stock supervisord
  restarts those at once, forever) and lets it go FATAL after `startretries` crashes;
* applies DEEPDOCKER_ON_FATAL: "exit" shuts supervisord down with a non-zero status
  when a program goes FATAL;
* ends everything when an `essential` program ends (hub mode: Jupyter, the Hub's single-user
  server): an exit it meant (status 0: the Hub, the culler or its user shut it down) with status
  0, FATAL (it kept crashing) with status 1, whatever DEEPDOCKER_ON_FATAL says;
* tells an on-demand program that waits on its FIFO (running, a shell) from one that was woken and
  is its daemon (entrypoint.render.WAITER): the first is IDLE to deepdocker-health and not probed;
* restarts a program that answered its probe and then stopped answering (deepdocker_supervisor.watchdog
  judges, in a thread; the restart happens here, in supervisord's loop), and makes it FATAL
  when that keeps happening.

What of supervisor's internals it needs (not its documented interfaces) is in one adapter,
deepdocker_supervisor.internals, which checks supervisor's version at load.

Its XML-RPC namespace is `deepdocker` (deepdocker.status()); the same status is served read-only
on a socket of the notebook user's (status.sock), for deepdocker-health in its commands.
"""

from __future__ import annotations

import collections
import fcntl
import os
import queue
import signal
import stat
import time
from typing import Any

import psutil
from supervisor import events
from supervisor.states import ProcessStates, getProcessStateDescription

from healthchecks.cli import read_state

from . import internals
from .watchdog import Check, RestartBudget, Verdict, Watchdog

API_VERSION = "1"
LAST_LINES = 20
# The daemons' log file (command mode at a terminal) starts over past this size.
MAX_LOG_FILE = 8 << 20
# A partial line longer than this is written anyway, so one chatty program cannot grow memory.
MAX_PARTIAL = 64 * 1024
# An exit with a non-zero status this soon after a start is a crash. supervisord's own
# backoff only covers exits within startsecs (1 s); Jupyter and TensorBoard take longer
# than that to hit, say, a port that is taken. Exits by a signal are not counted: a
# SIGKILL from outside (an operator, the OOM killer, the soak test) restarts at once.
CRASH_WINDOW = 30.0

_exit_code = 0


def exit_code() -> int:
    """The status supervisord should exit with; read by deepdocker_supervisor.supervise after main()."""
    return _exit_code


class _Reader:
    """The asyncore dispatcher interface supervisord's loop uses, for an fd it only reads."""

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def handle_error(self) -> None:
        pass


class _Waker(_Reader):
    """A pipe the signal machinery writes to, in supervisord's socket map.

    Python writes one byte to the wake-up fd whenever a handled signal arrives, so
    poll() returns right away instead of sleeping out its timeout.
    """

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        for fd in (self.r, self.w):
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
            os.set_inheritable(fd, False)
        signal.set_wakeup_fd(self.w, warn_on_full_buffer=False)

    def handle_read_event(self) -> None:
        try:
            while os.read(self.r, 512):
                pass
        except BlockingIOError:
            pass

    def wake(self) -> None:
        try:
            os.write(self.w, b"\0")
        except BlockingIOError:
            pass


_waker: _Waker | None = None


class _StatusSocket(_Reader):
    """deepdocker.status() for the notebook user, whose commands cannot open supervisord's socket
    (root's: it controls every daemon). Each connection gets the XML-RPC response body and is
    closed; nothing is read from it, so it controls nothing and cannot stall the loop."""

    def __init__(self, path: str, owner: str, status: Any) -> None:
        import socket

        uid, gid = (int(n) for n in owner.split(":"))
        try:
            os.unlink(path)  # an earlier start's (a link: the link itself)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o600)
        os.chown(path, uid, gid)
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.fd = self.sock.fileno()
        self.status = status

    def handle_read_event(self) -> None:
        import xmlrpc.client

        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.setblocking(False)
            try:
                conn.sendall(xmlrpc.client.dumps((self.status(),), methodresponse=True).encode())
            except OSError:
                pass


_status_socket: _StatusSocket | None = None


class _Output:
    """Program output -> prefixed lines on supervisord's stdout/stderr."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.partial: dict[tuple[str, int], bytes] = {}
        self.last: dict[str, collections.deque[str]] = collections.defaultdict(
            lambda: collections.deque(maxlen=LAST_LINES)
        )

    def feed(self, name: str, fd: int, data: bytes) -> None:
        key = (name, fd)
        buf = self.partial.pop(key, b"") + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        if len(rest) > MAX_PARTIAL:
            lines.append(rest)
            rest = b""
        if rest:
            self.partial[key] = rest
        self._emit(name, fd, lines)

    def say(self, name: str, message: str) -> None:
        """A line of deepdocker's own about a program, with that program's prefix, on stderr."""
        self.flush(name)
        self._emit(name, 2, [message.encode()])

    def flush(self, name: str) -> None:
        for fd in (1, 2):
            rest = self.partial.pop((name, fd), b"")
            if rest:
                self._emit(name, fd, [rest])

    def _emit(self, name: str, fd: int, lines: list[bytes]) -> None:
        if not lines:
            return
        prefix = f"{name:<{self.width}} | ".encode()
        out = b"".join(prefix + line.rstrip(b"\r") + b"\n" for line in lines)
        for line in lines:
            self.last[name].append(line.decode("utf-8", "replace").rstrip("\r"))
        try:
            os.write(fd, out)
            self._cap(fd)
        except OSError:
            pass  # nobody reads our output any more: keep supervising

    @staticmethod
    def _cap(fd: int) -> None:
        """Output to a file (command mode at a terminal) stays small: past the cap it starts over."""
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_size > MAX_LOG_FILE:
            os.ftruncate(fd, 0)
            os.write(fd, f"(deepdocker: this log passed {MAX_LOG_FILE >> 20} MiB and started over)\n".encode())


class DeepdockerNamespace:
    """The `deepdocker` XML-RPC namespace, and the hooks behind it."""

    def __init__(
        self,
        supervisord: Any,
        on_fatal: str = "stay",
        state_file: str = "",
        liveness: str = "on",
        on_demand: str = "",
        wake_dir: str = "",
        status_socket: str = "",
        status_owner: str = "",
        essential: str = "",
    ) -> None:
        global _waker
        self.supervisord = supervisord
        self.options = supervisord.options
        self.on_fatal = on_fatal
        self.essential = frozenset(n for n in essential.split(",") if n)
        self.spawns: collections.Counter[str] = collections.Counter()
        self.crashes: collections.Counter[str] = collections.Counter()
        # Liveness restarts of each daemon, and the pids being killed for one (pid -> when SIGKILL is due).
        start = read_state(os.path.dirname(state_file)) if state_file else None
        self.budgets = {n: RestartBudget(live) for n, live in (start.liveness if start else {}).items()}
        self.killing: dict[int, float] = {}
        self.give_up: set[str] = set()
        names = [p.name for g in self.options.process_group_configs for p in g.process_configs]
        self.output = _Output(max((len(n) for n in names), default=0))

        if _waker is None:  # a SIGHUP reload calls the factory again
            _waker = _Waker()
        self.waker = _waker
        self.options.get_socket_map()[self.waker.r] = self.waker
        internals.wrap_poll(self.options, self._before_poll)

        # On-demand programs and the folder where each one's `NAME.started` says it was woken.
        self.on_demand = frozenset(n for n in on_demand.split(",") if n)
        self.wake_dir = wake_dir

        global _status_socket
        if status_socket and status_owner:
            if _status_socket is None:
                _status_socket = _StatusSocket(status_socket, status_owner, self.status)
            _status_socket.status = self.status
            self.options.get_socket_map()[_status_socket.fd] = _status_socket

        events.subscribe(events.ProcessLogEvent, self._on_log)
        events.subscribe(events.ProcessStateStartingEvent, self._on_starting)
        events.subscribe(events.ProcessStateEvent, self._on_state)
        events.subscribe(events.SupervisorStoppingEvent, self._on_stopping)

        self.watchdog: Watchdog | None = None
        checks = self._checks(start) if liveness == "on" and start else []
        if checks:
            self.watchdog = Watchdog(checks, self._process, self.waker.wake, self.idle)
            self.watchdog.start()

    def _checks(self, start: Any) -> list[Check]:
        """A watch for each enabled service that has liveness rules (the state file's)."""
        return [
            Check(name, s.probe, s.host, s.port, s.target, start.liveness[name])
            for name, s in start.services.items()
            if name in start.liveness
        ]

    def _process(self, name: str) -> Any:
        for group in self.supervisord.process_groups.values():
            p = group.processes.get(name)
            if p is not None:
                return p
        return None

    # -- the main loop ---------------------------------------------------------------

    def _before_poll(self) -> float | None:
        self._liveness_actions()
        return self.next_due()

    def next_due(self) -> float | None:
        """Seconds until supervisord's loop has work to do; None: only its own tick."""
        if internals.signal_pending(self.options):  # handled one per pass
            return 0.0
        now = time.time()
        if self.killing:
            soonest_kill: float | None = max(0.0, min(self.killing.values()) - time.monotonic())
        else:
            soonest_kill = None
        mood = self.options.mood
        soonest: float | None = None
        for group in self.supervisord.process_groups.values():
            for p in group.processes.values():
                due = internals.process_due(p, now, mood)
                if due is not None and (soonest is None or due < soonest):
                    soonest = due
        if soonest_kill is not None and (soonest is None or soonest_kill < soonest):
            soonest = soonest_kill
        return soonest

    # -- events ----------------------------------------------------------------------

    def _on_log(self, event: Any) -> None:
        fd = 2 if isinstance(event, events.ProcessLogStderrEvent) else 1
        data = event.data if isinstance(event.data, bytes) else event.data.encode()
        self.output.feed(event.process.config.name, fd, data)

    def _on_starting(self, event: Any) -> None:
        self.spawns[event.process.config.name] += 1

    def _on_state(self, event: Any) -> None:
        name = event.process.config.name
        state = event.process.state
        if self.watchdog:
            self.watchdog.poke()
        if state in (ProcessStates.EXITED, ProcessStates.STOPPED, ProcessStates.BACKOFF, ProcessStates.FATAL):
            self.output.flush(name)
        if state == ProcessStates.EXITED:
            self._on_exit(event.process)
        elif state == ProcessStates.FATAL:
            self._on_fatal(name)

    def idle(self, name: str) -> bool:
        """An on-demand program still waiting for its first request (not yet its daemon)."""
        return name in self.on_demand and not os.path.exists(os.path.join(self.wake_dir, f"{name}.started"))

    # -- liveness ----------------------------------------------------------------------

    def _liveness_actions(self) -> None:
        """In supervisord's loop: act on the watchdog's verdicts, and SIGKILL what outlived SIGTERM."""
        now = time.monotonic()
        for pid, due in list(self.killing.items()):
            if now >= due:
                self._signal_group(pid, signal.SIGKILL)
                del self.killing[pid]
        if self.watchdog is None:
            return
        while True:
            try:
                verdict = self.watchdog.verdicts.get_nowait()
            except queue.Empty:
                return
            self._liveness_restart(verdict, now)

    def _liveness_restart(self, verdict: Verdict, now: float) -> None:
        p = self._process(verdict.name)
        if p is None or p.pid != verdict.pid or p.state != ProcessStates.RUNNING:
            return  # it changed meanwhile: the verdict was about a process that is gone
        budget = self.budgets[verdict.name]
        giving_up = budget.spend(now)
        if giving_up:
            self.give_up.add(verdict.name)
        what = (
            f"{len(budget.times)} liveness restarts within {budget.live.window:.0f} s: stopping it for good (FATAL)"
            if giving_up
            else "restarting it"
        )
        self.output.say(verdict.name, f"deepdocker: not answering ({verdict.reason}): {what}")
        # SIGCONT too: a stopped process acts on SIGTERM only once it runs again.
        self._signal_group(p.pid, signal.SIGTERM)
        self._signal_group(p.pid, signal.SIGCONT)
        self.killing[p.pid] = now + budget.live.kill_after

    @staticmethod
    def _signal_group(pid: int, signum: int) -> None:
        try:
            os.killpg(pid, signum)  # supervisord gives each program a process group of its own
        except (ProcessLookupError, PermissionError):
            pass

    def _on_exit(self, p: Any) -> None:
        name = p.config.name
        hung = self.killing.pop(p.pid, None) is not None
        if name in self.give_up:
            self.give_up.discard(name)
            internals.make_fatal(p)
            return
        ended = p.exitstatus in p.config.exitcodes and not hung  # not a liveness restart's SIGTERM
        if name in self.essential and ended and internals.running(self.options):
            self._end(0, f"{name} ended (exit status {p.exitstatus}): stopping everything, exit status 0")
            return
        crashed = p.exitstatus not in (None, -1, *p.config.exitcodes) and time.time() - p.laststart < CRASH_WINDOW
        if not crashed:
            self.crashes[name] = 0
            return
        self.crashes[name] += 1
        if not internals.running(self.options):
            return
        internals.back_off(p, self.crashes[name])

    def _on_fatal(self, name: str) -> None:
        if name in self.essential:
            self._end(1, f"{name} is FATAL and the container lives for it: stopping everything, exit status 1")
        elif self.on_fatal != "exit":
            self.options.logger.warn(f"{name} is FATAL; DEEPDOCKER_ON_FATAL=stay: staying up, unhealthy")
        else:
            self._end(1, f"{name} is FATAL; DEEPDOCKER_ON_FATAL=exit: stopping everything, exit status 1")

    def _end(self, status: int, why: str) -> None:
        global _exit_code
        self.options.logger.critical(why)
        _exit_code = status
        internals.shut_down(self.options)

    def _on_stopping(self, event: Any) -> None:
        if self.watchdog:
            self.watchdog.stop()
        # supervisord stops one group per loop pass, lowest priority last. deepdocker's
        # services do not depend on each other: signal them all at once.
        for group in self.supervisord.process_groups.values():
            group.stop_all()
        self.waker.wake()

    # -- XML-RPC ---------------------------------------------------------------------

    def getAPIVersion(self) -> str:
        """Version of the deepdocker namespace."""
        return API_VERSION

    def status(self) -> list[dict[str, Any]]:
        """Every program: state, pid, uptime, restarts, RSS and, unless RUNNING, its last lines."""
        now = time.time()
        result = []
        for group in self.supervisord.process_groups.values():
            for p in group.processes.values():
                name = p.config.name
                info: dict[str, Any] = {
                    "name": name,
                    "state": getProcessStateDescription(p.state),
                    "pid": p.pid or 0,
                    "uptime": round(now - p.laststart, 3) if p.pid else 0.0,
                    "restarts": max(0, self.spawns[name] - 1),
                    # False: an on-demand program nobody has opened yet (waiting on its FIFO).
                    "started": self.spawns[name] > 0 and not self.idle(name),
                    "liveness_restarts": self.budgets[name].total if name in self.budgets else 0,
                    # XML-RPC ints are 32-bit: bytes go as a double.
                    "rss": float(_rss(p.pid)),
                    "exitstatus": p.exitstatus or 0,
                    "spawnerr": p.spawnerr or "",
                }
                if p.state != ProcessStates.RUNNING:
                    info["last_lines"] = list(self.output.last[name])
                result.append(info)
        return result


def _rss(pid: int) -> int:
    if not pid:
        return 0

    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return 0


def make_interface(supervisord: Any, **config: str) -> DeepdockerNamespace:
    internals.check_version()  # at every start, before anything is touched
    return DeepdockerNamespace(
        supervisord,
        on_fatal=config.get("on_fatal", "stay"),
        state_file=config.get("state_file", ""),
        liveness=config.get("liveness", "on"),
        on_demand=config.get("on_demand", ""),
        wake_dir=config.get("wake_dir", ""),
        status_socket=config.get("status_socket", ""),
        status_owner=config.get("status_owner", ""),
        essential=config.get("essential", ""),
    )
