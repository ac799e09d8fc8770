"""python -m entrypoint.kernel_guard -- KERNEL_ARGV...: a Jupyter kernel whose processes die with it.

Jupyter starts every kernel through this (the `jupyter_server_config.py` deepdocker writes wraps
jupyter_client's LocalProvisioner.launch_kernel), as the notebook user. jupyter_client puts the
kernel in a process group of its own and signals that group to interrupt or kill it; this stays the
group's leader and the kernel's parent, so that:

* the kernel's processes go when the kernel goes: when it exits, is killed, or when the Jupyter
  server that started it dies (an OOM kill, a crash): whatever is left of its group, and every
  process orphaned below it (this is their subreaper, so `setsid` does not hide them), gets SIGTERM,
  then SIGKILL;
* the kernel is what the OOM killer takes first (oom_score_adj 1000), not the server, supervisord or
  the health check;
* a fork flood cannot take the container's last process slots for long: when the container's
  cgroup is near its pids limit (`--pids-limit`) and this kernel holds a good share of it, its
  processes are stopped, with one line in Jupyter's log; Jupyter then restarts the kernel.

Only the standard library: this starts once per kernel, so it stays small and quick.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
OOM_SCORE_ADJ = 1000
TICK = 0.25  # s between looks at the server, the kernel and the pids limit
GRACE = 2.0  # s the kernel's leftovers get between SIGTERM and SIGKILL
# cgroup v2, then v1's pids controller: the container's own (a private cgroup namespace, or
# Docker's mount of its cgroup at the root).
PIDS_DIRS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/pids"))


def _prctl(option: int, value: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the guard still cleans up its group
        pass


def pids_limit(dirs: tuple[Path, ...] = PIDS_DIRS) -> Path | None:
    """The folder whose pids.max and pids.current are this container's, when it has a limit."""
    for d in dirs:
        try:
            if (d / "pids.max").read_text().strip() != "max" and (d / "pids.current").exists():
                return d
        except (OSError, ValueError):
            continue
    return None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _stats() -> dict[int, tuple[str, int, int]]:
    """pid -> (state, ppid, pgrp) for every process this one can see."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # After the command's name, which may hold spaces and parentheses: state ppid pgrp ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        found[int(entry.name)] = (fields[0].decode(), int(fields[1]), int(fields[2]))
    return found


def kernel_processes(me: int | None = None) -> set[int]:
    """Every live process in this guard's group or below it (its own pid left out)."""
    me = os.getpid() if me is None else me
    stats = _stats()
    # The group only when it is the kernel's own (jupyter_client starts a new session): never a
    # caller's group that the guard happens to be in.
    group = os.getpgid(me) if os.getpgid(me) == me else None
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    below, todo = set(), [me]
    while todo:
        for pid in children.get(todo.pop(), ()):
            if pid not in below:
                below.add(pid)
                todo.append(pid)
    return {pid for pid, (state, _, pgrp) in stats.items() if (pgrp == group or pid in below) and state != "Z"} - {me}


def _reap() -> dict[int, int]:
    done: dict[int, int] = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done[pid] = status


def clean_up(grace: float = GRACE) -> None:
    """SIGTERM to what the kernel left, then SIGKILL until nothing is left (a flood keeps forking);
    what cannot be killed (a setuid program) is left after a few seconds more."""
    kill_at = time.monotonic() + grace
    give_up = kill_at + 5
    sig = signal.SIGTERM
    while time.monotonic() < give_up:
        left = kernel_processes()
        _reap()
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        time.sleep(0.05)
        if time.monotonic() > kill_at:
            sig = signal.SIGKILL


def _say(line: str) -> None:
    """One line to Jupyter's log; its pipe may be gone with the server (no traceback, no exit)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by a signal: as a shell says it


def _start(cmd: list[str]) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        # As subprocess's restore_signals: Python ignores SIGPIPE and SIGXFSZ, a kernel must not.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(OOM_SCORE_ADJ))
        except OSError:
            pass
        os.execvp(cmd[0], cmd)
    except OSError as e:
        _say(f"deepdocker: cannot start the kernel {cmd[0]}: {e.strerror}")
    os._exit(127)


def too_many(pids: Path | None, mine: int | None = None) -> tuple[int, int] | None:
    """(this kernel's processes, the limit) when the container is within a tenth of its pids limit
    and this kernel holds at least a quarter of the limit; else None."""
    if pids is None:
        return None
    limit, current = _read_int(pids / "pids.max"), _read_int(pids / "pids.current")
    if limit is None or current is None or current < limit - max(8, limit // 10):
        return None
    count = len(kernel_processes()) if mine is None else mine
    return (count, limit) if count >= max(4, limit // 4) else None


def guard(cmd: list[str], pids: Path | None = None, tick: float = TICK) -> int:
    server = os.getppid()
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    # Interrupts reach the kernel through its group (jupyter_client's killpg): the guard keeps on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watched = [signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP]
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    kernel = _start(cmd)
    try:
        code = None
        while code is None:
            got = signal.sigtimedwait(watched, tick)
            if got is not None and got.si_signo in (signal.SIGTERM, signal.SIGHUP):
                # Asked to stop (the group got it too, or only this pid did): the kernel gets it, then
                # its grace, before what is left is killed.
                try:
                    os.kill(kernel, got.si_signo)
                except OSError:
                    pass
                deadline = time.monotonic() + GRACE
                while code is None and time.monotonic() < deadline:
                    status = _reap().get(kernel)
                    code = None if status is None else _exit_code(status)
                    time.sleep(0.05)
                code = 128 + got.si_signo if code is None else code
                break
            status = _reap().get(kernel)
            if status is not None:
                code = _exit_code(status)
            elif os.getppid() != server:
                code = 1
                clean_up()  # first: the server's log may be gone with it
                _say(f"deepdocker: the Jupyter server that started kernel {cmd[0]} is gone: it was stopped")
            else:
                flood = too_many(pids)
                if flood:
                    _say(
                        f"deepdocker: kernel {cmd[0]} (pid {kernel}) has {flood[0]} processes and the container "
                        f"is near its limit of {flood[1]} (--pids-limit): its processes are stopped"
                    )
                    code = 1
                    clean_up(grace=0)  # a flood is not asked twice
    finally:
        clean_up()  # whatever happened above: the kernel's processes go
    return 1 if code is None else code


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m entrypoint.kernel_guard -- KERNEL_ARGV...", file=sys.stderr)
        return 2
    return guard(argv, pids_limit())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
