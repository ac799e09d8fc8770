"""Start, restart and stop times of deepdocker beside stock supervisord, same daemons, same run.

The baseline is the same rendered supervisord.conf without deepdocker's extension section,
run by plain `supervisord`. Everything is timed from outside supervisord: the daemons' own
ports, /proc and waitpid(). supervisord's XML-RPC socket is never polled while timing (a
request would wake its loop and hide the very ticks being measured).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import free_ports, median, table, wait_until

from entrypoint.prepare import prepare
from entrypoint.render import render
from entrypoint.settings import from_env
from healthchecks import probes
from tests.helpers import children, clean_env, cmdline

SERVICES = ("jupyter", "tensorboard", "sshd")
PROGRAMS = {"jupyter": "jupyter-lab", "tensorboard": "tensorboard", "sshd": "sshd"}
POLL = 0.002


def ready(name: str, port: int) -> bool:
    if name == "sshd":
        return probes.listen(port)[0]
    path = "/api" if name == "jupyter" else "/"
    return probes.http("127.0.0.1", port, path, timeout=1)[0]


def wait_ready(ports: dict[str, int], names=SERVICES, timeout: float = 120) -> float:
    """Seconds until every daemon answers on its own port."""
    start = time.monotonic()
    pending = set(names)
    while pending:
        pending = {n for n in pending if not ready(n, ports[n])}
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not ready: {pending}")
        time.sleep(POLL)
    return time.monotonic() - start


class Run:
    """One supervisord (deepdocker's or stock) over the same rendered configuration."""

    def __init__(self, tmp: Path, stock: bool):
        self.tmp = tmp
        jp, tp, sp = free_ports(3)
        self.ports = {"jupyter": jp, "tensorboard": tp, "sshd": sp}
        (tmp / "nb").mkdir()
        home = tmp / "home"
        home.mkdir()
        self.env = {
            **clean_env(home),
            "SERVICES": ",".join(SERVICES),
            "DEEPDOCKER_RUN_DIR": str(tmp / "run"),
            "DEEPDOCKER_BIND": "127.0.0.1",
            "NOTEBOOK_DIR": str(tmp / "nb"),
            "JUPYTER_PORT": str(jp),
            "TENSORBOARD_PORT": str(tp),
            "SSHD_PORT": str(sp),
        }
        settings = from_env(self.env)
        text = render(settings)
        if stock:
            text = re.sub(r"\[rpcinterface:deepdocker\].*?(?=\n\[)", "", text, flags=re.S)
            assert "supervisor_ext:make_interface" not in text
        self.paths = prepare(settings, text)
        self.settings = settings
        self.stock = stock
        self.log = open(tmp / "log", "wb")  # noqa: SIM115 - closed in stop()

    def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        cmd = [str(bin_dir / "supervisord"), "-n", "-c", str(self.paths.config)]
        if not self.stock:
            cmd = [sys.executable, "-m", "deepdocker_supervisor.supervise", "-n", "-c", str(self.paths.config)]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=self.log)

    def pid_of(self, name: str, exclude: int = 0) -> int | None:
        for pid in children(self.proc.pid):
            if pid != exclude and PROGRAMS[name] in cmdline(pid):
                return pid
        return None

    def restart(self, name: str) -> tuple[float, float]:
        """SIGKILL `name`: (seconds until a new process exists, seconds until it is ready)."""
        old = self.pid_of(name)
        assert old
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: self.pid_of(name, exclude=old), 10, POLL, f"{name} respawn")
        spawned = time.monotonic() - t0
        while ready(name, self.ports[name]):  # the old socket may linger for a moment
            time.sleep(POLL)
        wait_ready(self.ports, [name])
        return spawned, time.monotonic() - t0

    def stop(self) -> float:
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        took = time.monotonic() - t0
        self.log.close()
        assert b"with SIGKILL" not in (self.tmp / "log").read_bytes(), "a daemon needed SIGKILL"
        return took

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def by_hand(run: Run) -> dict[str, float]:
    """The daemons started from their rendered command lines with no supervisor: each one
    alone (its own ready time), then all together (what 2 cores allow them at once)."""
    from supervisor.options import ServerOptions

    opts = ServerOptions()
    opts.configfile = str(run.paths.config)
    opts.process_config(do_usage=False)
    configs = [p for group in opts.process_group_configs for p in group.process_configs]

    def start(p):
        env = {**run.env, **(p.environment or {})}
        argv = shlex.split(p.command)
        return subprocess.Popen(argv, env=env, cwd=p.directory, stdout=run.log, stderr=run.log, start_new_session=True)

    def stop(procs):
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(30)

    times = {}
    for p in configs:
        t0 = time.monotonic()
        proc = start(p)
        wait_ready(run.ports, [p.name])
        times[f"{p.name} own ready"] = time.monotonic() - t0
        stop([proc])
    t0 = time.monotonic()
    procs = [start(p) for p in configs]
    wait_ready(run.ports)
    times["all by hand together"] = time.monotonic() - t0
    stop(procs)
    times["slowest own ready"] = max(v for k, v in times.items() if k.endswith("own ready"))
    return times


def measure(stock: bool, with_standalone: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp), stock)
        result: dict[str, float] = {}
        if with_standalone:
            result.update(by_hand(run))
        run.start()
        wait_ready(run.ports)
        result["time to healthy"] = time.monotonic() - run.started
        time.sleep(1.5)  # past startsecs: every daemon RUNNING
        result["control plane RSS"] = run.rss_mib()
        for name in SERVICES:
            spawned, again = run.restart(name)
            result[f"{name} respawn"] = spawned
            result[f"{name} ready again"] = again
            time.sleep(1.5)
        result["stop"] = run.stop()
        return result


def rows(rounds: int = 3) -> tuple[list[tuple[str, float, float, str]], list[str]]:
    """Table rows (what, deepdocker, stock, unit) and notes on the daemons' own times."""
    ours, stock = [], []
    for _ in range(rounds):
        ours.append(measure(stock=False, with_standalone=True))
        stock.append(measure(stock=True))

    def med(results, key):
        return median([r[key] for r in results])

    table_rows = [("time to healthy (all 3)", med(ours, "time to healthy"), med(stock, "time to healthy"), " s")]
    for name in SERVICES:
        table_rows.append(
            (f"{name} respawn after SIGKILL", med(ours, f"{name} respawn"), med(stock, f"{name} respawn"), " s")
        )
    for name in SERVICES:
        table_rows.append(
            (f"{name} ready again", med(ours, f"{name} ready again"), med(stock, f"{name} ready again"), " s")
        )
    table_rows.append(("stop (SIGTERM to exit)", med(ours, "stop"), med(stock, "stop"), " s"))
    table_rows.append(("control plane RSS", med(ours, "control plane RSS"), med(stock, "control plane RSS"), "Mi"))
    slowest, together = med(ours, "slowest own ready"), med(ours, "all by hand together")
    notes = [
        "each daemon's own ready time, started by hand alone: "
        + ", ".join(f"{name} {med(ours, f'{name} own ready'):.3f} s" for name in SERVICES)
    ]
    notes.append(f"all three started by hand together, no supervisor: {together:.3f} s")
    notes.append(
        f"target: time to healthy <= slowest own ready + 0.3 s = {slowest + 0.3:.3f} s "
        f"(on these cores, started together: {together + 0.3:.3f} s)"
    )
    return table_rows, notes


if __name__ == "__main__":
    r, n = rows(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    print(table(r, "deepdocker vs stock supervisord 4.3.0"))
    print("\n".join(n))
