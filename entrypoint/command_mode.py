"""Command mode: `deepdocker-entrypoint CMD [ARG...]` runs the services and CMD in the foreground.

supervisord runs in the background, in a session of its own; CMD runs as the notebook user; this
process reaps every child (it may be PID 1). When CMD ends, the services stop and its status is
the container's. A supervisord killed from outside is started again, its orphaned daemons first
stopped, unless that keeps happening right after its start.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from .accounts import users
from .core.model import Settings

PROG = "deepdocker-entrypoint"


def say(message: str) -> None:
    print(f"deepdocker | {message}", file=sys.stderr, flush=True)


class CommandRunner:
    """Starts the command: as the notebook user when started as root (its groups, its umask)."""

    def __init__(self, argv: list[str], env: dict[str, str], settings: Settings) -> None:
        self.argv, self.env = argv, env
        self.switch: dict = {}
        if settings.is_root and not settings.account.is_root:
            account = settings.account
            self.switch = {"user": account.uid, "group": account.gid, "extra_groups": users.groups(account)}
        if settings.stacks.umask is not None:
            self.switch["umask"] = settings.stacks.umask

    def start(self) -> int:
        import subprocess

        # The Popen object is kept: its pid is reaped by run_with_command's waitpid(-1).
        self.proc = subprocess.Popen(self.argv, env=self.env, close_fds=False, **self.switch)
        return self.proc.pid


# After SIGTERM, the seconds a command has before SIGHUP (an interactive shell ignores SIGTERM,
# and leaves on a hang-up, as when its terminal goes), then before SIGKILL.
STOP_GRACE = 1.0

# A supervisord that dies sooner than this after its start is started again only after a pause.
RESPAWN_PAUSE = 1.0

# Killed this many times in a row, each within QUICK_DEATH seconds of its start: not started again.
QUICK_DEATH = 10.0

QUICK_DEATHS = 3


def run_with_command(argv_sup: list[str], env: dict[str, str], command: CommandRunner, log: Path | None = None) -> int:
    """supervisord in the background, `command` in the foreground; this process reaps all.

    supervisord's and the daemons' lines go to stderr, or, when a person types at a terminal
    (`docker run -it ... bash`), to `log`, so that they do not print over the prompt.
    """
    if log is None:
        out = 2
    else:
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        if "user" in command.switch:  # the person at the terminal is the notebook user: theirs to read
            os.fchown(out, command.switch["user"], command.switch["group"])
        say(f"the daemons' logs: {log} (tail -f {log}); their state: deepdocker-health")
    sup = Supervisord(argv_sup, env, out)
    try:
        cmd_pid = command.start()
    except OSError as e:
        print(f"{PROG}: cannot run {command.argv[0]!r}: {e.strerror}", file=sys.stderr)
        sup.stop()
        return 127

    escalation = [signal.SIGHUP, signal.SIGKILL]

    def forward(signum: int, _frame: object) -> None:
        sup.stopping = True
        for pid in (cmd_pid, sup.pid):
            _kill(pid, signum)
        if signum == signal.SIGTERM:
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE)

    def escalate(_signum: int, _frame: object) -> None:
        if escalation:
            _kill(cmd_pid, escalation.pop(0))
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    signal.signal(signal.SIGALRM, escalate)
    # The terminal's Ctrl-C goes to the foreground command; this process waits it out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    sup_status = 0
    while True:
        pid, status = _wait_any()
        if pid in (cmd_pid, -1):
            break
        # Killed from outside, its daemons are unsupervised: start it again. Ended by itself
        # (DEEPDOCKER_ON_FATAL=exit), or killed again and again: so does the command.
        if pid == sup.pid and not sup.stopping and not (os.WIFSIGNALED(status) and sup.died(status)):
            sup.stopping, sup.pid = True, -1
            sup_status = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
            forward(signal.SIGTERM, None)
    signal.setitimer(signal.ITIMER_REAL, 0)
    sup.stop()
    if status < 0:
        return 1
    code = os.waitstatus_to_exitcode(status)
    return sup_status or (128 - code if code < 0 else code)  # killed by signal N: 128+N, as shells do


class Supervisord:
    """supervisord in a session of its own (Ctrl-C on the terminal reaches the command, not the
    daemons), started again if it dies while the command runs, its orphaned daemons first stopped."""

    def __init__(self, argv: list[str], env: dict[str, str], out: int) -> None:
        self.argv, self.env, self.out = argv, env, out
        # True once asked to stop, or once it stopped by itself: not started again.
        self.stopping = False
        self.quick_deaths = 0
        self.start()

    def start(self) -> None:
        self.started = time.monotonic()
        # Its log lines and the daemons' go to `out` (stderr or the log file), never to stdout:
        # the command's stdout carries the command's output alone (`docker run ... CMD > file`).
        dup = [(os.POSIX_SPAWN_DUP2, self.out, 1), (os.POSIX_SPAWN_DUP2, self.out, 2)]
        self.pid = os.posix_spawn(self.argv[0], self.argv, self.env, setsid=True, file_actions=dup)

    def died(self, status: int) -> bool:
        """It was killed: stop the daemons it left, and start it again unless that keeps
        happening right after its start. Whether it was started again."""
        lived = time.monotonic() - self.started
        self.quick_deaths = self.quick_deaths + 1 if lived < QUICK_DEATH else 0
        _stop_session(self.pid)
        if self.quick_deaths >= QUICK_DEATHS:
            say(f"supervisord ended ({_describe(status)}) {self.quick_deaths} times within seconds: giving up")
            return False
        say(f"supervisord ended ({_describe(status)}): stopping the daemons it left and starting it again")
        if lived < RESPAWN_PAUSE:
            time.sleep(RESPAWN_PAUSE)
        self.start()
        return True

    def stop(self) -> None:
        if self.pid < 0 or _sid(self.pid) is None:
            return  # already ended and reaped
        _kill(self.pid, signal.SIGTERM)
        while True:
            pid, _ = _wait_any()
            if pid in (self.pid, -1):
                return


def _kill(pid: int, signum: int) -> None:
    if pid <= 0:  # never -1 (every process) or 0 (our group): a child that is gone
        return
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait_any() -> tuple[int, int]:
    """Reap any child (as PID 1, orphans land here): (pid, status), or (-1, -1) when none is left."""
    try:
        return os.waitpid(-1, 0)
    except ChildProcessError:
        return -1, -1


def _describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


def _stop_session(sid: int) -> None:
    """SIGTERM, then SIGKILL, to every process left in session `sid` (supervisord's daemons)."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        left = [pid for pid in _pids() if _sid(pid) == sid]
        for pid in left:
            _kill(pid, signum)
        deadline = time.monotonic() + STOP_GRACE
        while left and time.monotonic() < deadline:
            _reap_nohang()
            left = [pid for pid in left if _sid(pid) == sid]
            time.sleep(0.02)
        if not left:
            return


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]


def _sid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return None if fields[0] == b"Z" else int(fields[3])  # state, ppid, pgrp, session
    except (OSError, IndexError, ValueError):
        return None


def _reap_nohang() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
