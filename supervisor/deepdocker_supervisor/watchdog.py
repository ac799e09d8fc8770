"""Liveness inside supervisord: a daemon that answered its probe and then stops answering is hung.

supervisord restarts only what exits. A Jupyter whose event loop is blocked, or a TensorBoard
that was sent SIGSTOP, stays RUNNING and broken until a person notices. Here a thread probes each
daemon that has a `Liveness` entry in the registry, with the same probe `deepdocker-health` uses,
and hands its verdicts to supervisord's own loop through a queue and the wake-up pipe: every
action on a process happens in supervisord's thread, never in this one.

The thread only reads a process's pid and state (plain attributes) and never blocks
supervisord: a probe that hangs holds up the next probe, nothing else.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from supervisor.states import ProcessStates

from healthchecks import probes
from healthchecks.state import Liveness

# Seconds between looks at a daemon that has not answered since its start.
FIRST_LOOK = 1.0


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    host: str
    port: int
    target: str
    liveness: Liveness

    def probe(self) -> tuple[bool, str]:
        if self.kind in ("http", "https"):
            tls = self.kind == "https"
            return probes.http(self.host, self.port, self.target, timeout=self.liveness.timeout, tls=tls)
        return probes.listen(self.port)


@dataclass
class _Watch:
    pid: int = 0
    since: float = 0.0
    ready: bool = False
    fails: int = 0
    due: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """A daemon to restart: its name, the pid that stopped answering, and why."""

    name: str
    pid: int
    reason: str


class Watchdog(threading.Thread):
    def __init__(
        self,
        checks: list[Check],
        process: Callable[[str], object],
        wake: Callable[[], None],
        idle: Callable[[str], bool] = lambda name: False,
    ) -> None:
        super().__init__(name="deepdocker-liveness", daemon=True)
        self.checks = checks
        self.process = process  # name -> supervisor Subprocess (read only here)
        self.wake = wake
        # An on-demand program waiting for its first request: nothing to probe yet, and its grace
        # starts when it is woken (the same process becomes the daemon).
        self.idle = idle
        self.verdicts: queue.SimpleQueue[Verdict] = queue.SimpleQueue()
        self.watches = {c.name: _Watch() for c in checks}
        self._stopped = False
        self._poked = threading.Event()

    def stop(self) -> None:
        self._stopped = True
        self._poked.set()

    def poke(self) -> None:
        """A process changed state (supervisord's thread): look now, a new one starts its own count."""
        self._poked.set()

    def run(self) -> None:
        while not self._stopped:
            now = time.monotonic()
            for check in self.checks:
                self._look(check, now)
            soonest = min((w.due for w in self.watches.values()), default=now + 10.0)
            self._poked.wait(max(0.05, soonest - time.monotonic()))
            self._poked.clear()

    def _look(self, check: Check, now: float) -> None:
        watch = self.watches[check.name]
        p = self.process(check.name)
        pid, state = getattr(p, "pid", 0), getattr(p, "state", None)
        live = check.liveness
        if pid != watch.pid:  # a new process (or none): start over, the failure count with it
            self.watches[check.name] = watch = _Watch(pid=pid, since=now, due=now + FIRST_LOOK)
        if not pid or state != ProcessStates.RUNNING:
            watch.due = max(watch.due, now + 0.5)
            return
        if self.idle(check.name):
            watch.since, watch.due = now, now + 0.5
            return
        if now < watch.due:
            return
        ok, detail = check.probe()
        # Until its first answer, looked at every second (to know it is up); then every interval.
        watch.due = now + (live.interval if watch.ready or ok else FIRST_LOOK)  # from the probe's start
        if ok:
            watch.ready, watch.fails = True, 0
            return
        if not watch.ready and now - watch.since < live.grace:
            return  # not answered yet, and still in its grace: a slow start, not a hang
        watch.fails += 1
        if watch.fails >= live.failures:
            reason = f"{detail}, {watch.fails} probes in a row over {watch.fails * live.interval:.0f} s"
            self.verdicts.put(Verdict(check.name, pid, reason))
            watch.ready, watch.fails = False, 0
            self.wake()


class RestartBudget:
    """Liveness restarts of one daemon within its window: more than `restarts` and it goes FATAL."""

    def __init__(self, live: Liveness) -> None:
        self.live = live
        self.times: collections.deque[float] = collections.deque()
        self.total = 0

    def spend(self, now: float) -> bool:
        """Count a restart at `now`; True when it is one too many (give up: FATAL)."""
        while self.times and now - self.times[0] > self.live.window:
            self.times.popleft()
        self.times.append(now)
        self.total += 1
        return len(self.times) > self.live.restarts
