"""Everything deepdocker reaches into supervisord for beyond its documented interfaces, in one place.

deepdocker_supervisor.extension uses supervisor's documented extension points as documented: an
rpcinterface factory, the event bus, the asyncore socket map, process groups' `stop_all()`, and the
states in `supervisor.states`. What this module touches is not documented, and it was written
against supervisor WRITTEN_FOR (setup.cfg pins it). `check_version()` runs when supervisord loads
the extension, at every start, and stops that start with one clear error on any other version:

- the poller's `poll()` (`options.poller`): wrapped, so that supervisord's loop wakes at the next
  moment a process changes state instead of at its 1-second tick (`wrap_poll`);
- the signal receiver's private `_signals_recvd` list: a signal still to be handled means the loop
  must not wait (`signal_pending`);
- `Subprocess.transition()`: when each process is next due is a copy of its logic (`process_due`);
- a process's `backoff` counter, `delay` and `change_state()`: a crash after RUNNING is given
  supervisord's own BACKOFF (`back_off`), a hung one that keeps hanging is made FATAL (`make_fatal`);
- `options.mood`: read to know whether supervisord is shutting down (`running`), set to SHUTDOWN
  to end it (`shut_down`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supervisor.datatypes import RestartUnconditionally
from supervisor.states import ProcessStates, SupervisorStates

WRITTEN_FOR = "4.3.0"
# supervisord's process_state comparisons are strict (now > deadline): poll just past it.
EPSILON = 0.002


def check_version(version: str | None = None) -> None:
    """RuntimeError, saying what to do, unless this is the supervisor this module was written for."""
    if version is None:
        from supervisor.options import VERSION

        version = VERSION
    if version != WRITTEN_FOR:
        raise RuntimeError(
            f"deepdocker's supervisord extension was written for supervisor {WRITTEN_FOR} and reaches into its "
            f"internals; this is supervisor {version}. Install supervisor=={WRITTEN_FOR} (setup.cfg pins it), "
            "or port supervisor/deepdocker_supervisor/internals.py to this version."
        )


def wrap_poll(options: Any, due: Callable[[], float | None]) -> None:
    """Make supervisord's poller wait at most `due()` seconds (None: its own timeout) each pass."""
    poller = options.poller
    poll = type(poller).poll.__get__(poller)

    def deadline_poll(timeout: float) -> Any:
        soonest = due()
        return poll(timeout if soonest is None else max(0.0, min(timeout, soonest)))

    poller.poll = deadline_poll


def signal_pending(options: Any) -> bool:
    """A signal supervisord has received and not yet handled (it handles one per pass)."""
    return bool(options.signal_receiver._signals_recvd)


def running(options: Any) -> bool:
    return bool(options.mood >= SupervisorStates.RUNNING)


def shut_down(options: Any) -> None:
    options.mood = SupervisorStates.SHUTDOWN


def process_due(p: Any, now: float, mood: int) -> float | None:
    """Seconds until supervisord's transition() has something to do for process `p`; None: nothing.
    A copy of supervisor.process.Subprocess.transition()'s conditions."""
    state, cfg = p.state, p.config
    if state == ProcessStates.STARTING:
        return float(p.laststart + cfg.startsecs - now + EPSILON)
    if state == ProcessStates.STOPPING:
        return float(p.delay - now + EPSILON)
    if mood < SupervisorStates.RUNNING:
        return None
    if state == ProcessStates.EXITED and cfg.autorestart:
        if cfg.autorestart is RestartUnconditionally or p.exitstatus not in cfg.exitcodes:
            return 0.0
    elif state == ProcessStates.STOPPED and not p.laststart and cfg.autostart:
        return 0.0
    elif state == ProcessStates.BACKOFF:
        if p.backoff > cfg.startretries:
            return 0.0  # transition() moves it to FATAL
        return float(p.delay - now + EPSILON)
    return None


def back_off(p: Any, crashes: int) -> None:
    """supervisord's own BACKOFF after the `crashes`-th crash in a row: a wait of 1 s, 2 s, ...
    before the next start, and FATAL once the crashes outnumber startretries."""
    p.backoff = crashes - 1  # change_state() adds the 1
    p.change_state(ProcessStates.BACKOFF)


def make_fatal(p: Any) -> None:
    p.change_state(ProcessStates.FATAL)
