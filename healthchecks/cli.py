"""deepdocker-health [--live] [--json] [--wait SECONDS] | deepdocker-health --gpu [--json]

Readiness (the default): every enabled daemon is RUNNING in supervisord and answers its probe, or
is started on demand and either IDLE (not opened yet: nothing to probe) or in its first start.
Liveness (--live; the image's HEALTHCHECK): supervisord answers and the services the container
lives for (Jupyter, at its base URL; without Jupyter, every enabled daemon) are RUNNING and answer.
A TensorBoard restarting or FATAL makes a container not ready, never not live: an orchestrator
that replaces unhealthy containers (Docker Swarm, a Kubernetes liveness probe) keeps the lab.
Exit status: 0 healthy (ready, or live with --live), 1 not, or not running, 2 usage error.
Honours DEEPDOCKER_RUN_DIR, like deepdocker-entrypoint.

Where a GPU is present (/dev/nvidiactl), a person's view (a terminal, or --json) adds each service's
GPU memory; Docker's HEALTHCHECK (neither) never pays for it. Its readiness view adds the notebook
user's layer ("user_layer": its packages, those that shadow the image's, layers of another Python).

--gpu: what this container or machine sees of its GPUs (NVML), what each framework sees, and a
plain sentence with the fix for each problem (healthchecks/gpu.py). No GPU: one line, exit 0;
otherwise exit 0 with no problem found, 1 with one. Works without deepdocker's daemons (host mode).
"""

from __future__ import annotations

import os
import sys
import time

from . import probes, rpc, state
from .rundir import state_dir

USAGE = "usage: deepdocker-health [--live] [--json] [--wait SECONDS] | deepdocker-health --gpu [--json]"
# The NVIDIA driver's control device: there only where a GPU was passed in (or the host has one).
GPU_DEVICE = "/dev/nvidiactl"


class NotRunning(Exception):
    pass


def read_state(directory: str) -> state.State:
    """This start's state (healthchecks.state), or NotRunning."""
    try:
        return state.load(directory)
    except OSError as e:
        raise NotRunning(f"deepdocker is not running here: {directory}/{state.FILE}: {e.strerror}") from None


def probe(spec: state.ServiceState) -> tuple[bool, str]:
    if spec.probe in ("http", "https"):
        return probes.http(spec.host, spec.port, spec.target, tls=spec.probe == "https")
    return probes.listen(spec.port)


def processes(socket_path: str) -> dict[str, dict]:
    """supervisord's view of each program (deepdocker.status), by name."""
    try:
        try:
            found = rpc.call(socket_path, "deepdocker.status")
        except PermissionError:
            # Not root: the notebook user's read-only status socket beside it (deepdocker_supervisor.extension).
            found = rpc.read(socket_path.rsplit("/", 1)[0] + "/status.sock")
        return {p["name"]: p for p in found}
    except (OSError, rpc.Fault) as e:
        raise NotRunning(f"supervisord does not answer on {socket_path}: {e}") from None


def check(directory: str, live: bool = False) -> dict:
    """One look at every enabled daemon, or (live) at those the container lives for:
    {"healthy": bool, "view": "readiness" | "liveness", "services": {...}}."""
    start = read_state(directory)
    enabled = start.services
    if live and start.live:
        enabled = {name: spec for name, spec in enabled.items() if name in start.live}
    programs = processes(start.socket)
    services = {}
    for name, spec in enabled.items():
        info = programs.get(name, {"state": "ABSENT", "pid": 0})
        entry = {
            "state": info["state"],
            "ready": False,
            "pid": info.get("pid", 0),
            "uptime": info.get("uptime", 0.0),
            "restarts": info.get("restarts", 0),
            # Of those, restarts of a hung daemon (liveness); the rest are exits and crashes.
            "liveness_restarts": info.get("liveness_restarts", 0),
            "rss": int(info.get("rss", 0)),
            "port": spec.port,
        }
        on_demand = spec.start == "on-demand"
        if entry["state"] == "RUNNING" and on_demand and not info.get("started", True):
            entry["state"] = "IDLE"
            entry["probe"] = f"not started yet: its first request (/{name}/) starts it"
        elif entry["state"] == "RUNNING":
            entry["ready"], entry["probe"] = probe(spec)
        else:
            entry["probe"] = "not probed: not RUNNING"
            entry["last_lines"] = info.get("last_lines", [])
            if info.get("spawnerr"):
                entry["spawnerr"] = info["spawnerr"]
        if on_demand and entry["restarts"] == 0 and entry["state"] in ("STARTING", "RUNNING") and not entry["ready"]:
            # Its first start, which a request through Jupyter is waiting for: not a fault.
            entry["first_start"] = True
        services[name] = entry
    healthy = bool(services) and all(
        (s["state"] == "RUNNING" and s["ready"]) or s["state"] == "IDLE" or s.get("first_start")
        for s in services.values()
    )
    report: dict = {"healthy": healthy, "view": "liveness" if live else "readiness", "services": services}
    if start.notes:
        report["notes"] = start.notes
    return report


def add_gpu_memory(report: dict) -> None:
    """Each service's GPU memory ("gpu_memory", bytes), where a GPU is present: for a person's view."""
    if not os.path.exists(GPU_DEVICE):
        return
    from . import gpu

    nvml = gpu.load_nvml()
    if nvml is not None:
        used = gpu.service_gpu_memory(nvml, {n: s["pid"] for n, s in report["services"].items()})
        for name, s in report["services"].items():
            s["gpu_memory"] = used.get(name, 0)


def add_user_layer(report: dict, directory: str) -> None:
    """The notebook user's layer as it is now (entrypoint.userlayer.scan: packages that shadow the
    image's, layers of another Python): for a person's view. Read as the notebook user (gpu.as_user):
    root opens nothing in the user's home itself."""
    import json
    import subprocess

    from .gpu import as_user

    try:
        start = read_state(directory)
    except NotRunning:
        return
    if not start.layer or start.user is None:
        return
    env = {k: os.environ[k] for k in ("USER_VENV", "LANG", "LC_ALL") if k in os.environ}
    env["PATH"] = "/usr/bin:/bin"
    run_as = as_user(start.user, env) or {"env": {**env, "HOME": start.user[3]}}
    argv = [sys.executable, "-I", "-m", "entrypoint.userlayer", "scan", start.user[3]]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL, **run_as)
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return
    if not isinstance(found, dict) or found.get("path") != start.layer:
        return
    fresh = [n[:500] for n in found.pop("notes", []) if isinstance(n, str) and n.isprintable()]
    # The start's own user-layer notes are replaced by what is true now.
    report["notes"] = [n for n in report.get("notes", []) if not n.startswith("user layer:")] + fresh
    if not report["notes"]:
        del report["notes"]
    report["user_layer"] = found


def _uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _restarts(s: dict) -> str:
    hung = s.get("liveness_restarts", 0)
    return f"{s['restarts']} ({hung} hung)" if hung else str(s["restarts"])


def table(report: dict) -> str:
    gpu = any("gpu_memory" in s for s in report["services"].values())
    rows = [("SERVICE", "STATE", "READY", "PID", "UPTIME", "RESTARTS", "RSS", *(("GPU MEM",) if gpu else ()), "PROBE")]
    for name, s in report["services"].items():
        rows.append(
            (
                name,
                s["state"],
                "yes" if s["ready"] else "no",
                str(s["pid"] or "-"),
                _uptime(s["uptime"]) if s["pid"] else "-",
                _restarts(s),
                f"{s['rss'] / 1048576:.1f} MiB" if s["rss"] else "-",
                *((f"{s.get('gpu_memory', 0) / 1048576:.0f} MiB",) if gpu else ()),
                s["probe"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows]
    for name, s in report["services"].items():
        if s.get("spawnerr"):
            out.append(f"{name}: {s['spawnerr']}")
        if s.get("last_lines"):
            out.append(f"{name}: last output:")
            out += [f"  {line}" for line in s["last_lines"]]
    if layer := report.get("user_layer"):
        out.append(f"user layer: {layer['path']}: {len(layer.get('packages', {}))} package(s) of the user's own")
    out += [f"note: {note}" for note in report.get("notes", ())]
    out.append("healthy" if report["healthy"] else "NOT healthy")
    return "\n".join(out)


def login_lines(directory: str) -> list[str]:
    """The services' login URLs (healthchecks.state, `login`), for a person at a terminal who may
    read their token files.

    Only on a terminal: Docker keeps HEALTHCHECK output in `docker inspect`, a log.
    """
    try:
        logins = read_state(directory).logins
    except NotRunning:
        return []
    out = []
    for name, url, token_file in logins:
        try:
            with open(token_file) as f:
                token = f.read().strip()
        except OSError:
            continue
        if token:
            out.append(f"{name} login: {url}{token}")
    return out


def parse_args(args: list[str]) -> tuple[bool, float | None, bool, bool]:
    as_json, wait, gpu, live = False, None, False, False
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--json":
            as_json = True
        elif a == "--live":
            live = True
        elif a == "--gpu":
            gpu = True
        elif a == "--wait" or a.startswith("--wait="):
            value = a.partition("=")[2] if "=" in a else (args[i + 1] if i + 1 < len(args) else "")
            i += 0 if "=" in a else 1
            try:
                wait = float(value)
            except ValueError:
                wait = -1.0
            if not wait >= 0:  # also rejects nan
                raise ValueError(f"--wait={value!r}: not a number of seconds; accepted: a number >= 0")
        else:
            raise ValueError(f"unknown argument {a!r}")
        i += 1
    if gpu and (wait is not None or live):
        raise ValueError("--gpu takes no --wait and no --live")
    return as_json, wait, gpu, live


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    try:
        as_json, wait, gpu, live = parse_args(args)
    except ValueError as e:
        print(f"deepdocker-health: {e}\n{USAGE}", file=sys.stderr)
        return 2
    directory = state_dir(os.environ)
    if gpu:
        return gpu_report(directory, as_json)
    deadline = time.monotonic() + (wait or 0.0)
    while True:
        try:
            report: dict | None = check(directory, live)
            error = ""
        except NotRunning as e:
            report, error = None, str(e)
        if (report and report["healthy"]) or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    if report is None:
        print(f"deepdocker-health: {error}", file=sys.stderr)
        if as_json:
            print(f'{{"healthy": false, "view": "{"liveness" if live else "readiness"}", "services": {{}}}}')
        return 1
    if as_json or sys.stdout.isatty():  # a person's view, once, after any --wait
        add_gpu_memory(report)
        if not live:
            add_user_layer(report, directory)
    try:
        if as_json:
            import json

            print(json.dumps(report, indent=1))
        else:
            print(table(report))
            for line in login_lines(directory) if sys.stdout.isatty() else ():
                print(line)
    except BrokenPipeError:  # `deepdocker-health | head`
        sys.stderr.close()
    return 0 if report["healthy"] else 1


def gpu_report(directory: str, as_json: bool) -> int:
    from . import gpu

    services: dict[str, int] = {}
    user = None
    try:  # which service each GPU process belongs to, where deepdocker runs here (no probing needed)
        start = read_state(directory)
        user = start.user
        services = {n: int(p.get("pid", 0)) for n, p in processes(start.socket).items() if n in start.services}
    except NotRunning:
        pass
    try:
        return gpu.main(as_json, services, user)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
