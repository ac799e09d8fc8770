"""Containers that tests start and always remove (after docker-stacks' TrackedContainer)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import testinfra

from tests.helpers import wait_until


def docker(*args: str, timeout: float = 120, check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


# A line that says something went wrong: a Python traceback, an ERROR or CRITICAL line
# (supervisord writes CRIT), Jupyter's [E ...] and [C ...] lines.
PROBLEM = re.compile(r"Traceback \(most recent call last\)|\bERROR\b|\bCRIT(ICAL)?\b|\| \[[EC] \d")
KNOWN = (
    # At every start: the control socket is a unix socket only its owner can use (README).
    re.compile(r"CRIT Server 'unix_http_server' running without any HTTP authentication checking"),
    # At every stop: Jupyter logs the SIGTERM it was sent at its CRITICAL level.
    re.compile(r"\| \[C [^]]* ServerApp\] received signal 15, stopping$"),
)


def problems(logs: str, expected: tuple[str, ...] = ()) -> list[str]:
    allowed = (*KNOWN, *(re.compile(e) for e in expected))
    return [line for line in logs.splitlines() if PROBLEM.search(line) and not any(a.search(line) for a in allowed)]


class Container:
    def __init__(self, cid: str, expected: tuple[str, ...] = ()):
        self.id = cid
        self.host = testinfra.get_host(f"docker://{cid}")
        # Regular expressions of problem lines this test provokes on purpose.
        self.expected = expected

    def inspect(self) -> dict:
        return json.loads(docker("inspect", self.id).stdout)[0]

    def health(self) -> str:
        return self.inspect()["State"].get("Health", {}).get("Status", "none")

    def wait_health(self, status: str = "healthy", timeout: float = 180) -> None:
        def reached():
            state = self.inspect()["State"]
            if not state["Running"]:
                raise AssertionError(f"container exited ({state['ExitCode']}):\n{self.logs()}")
            return state["Health"]["Status"] == status

        wait_until(reached, timeout, interval=0.5, what=f"Docker health '{status}'")

    def exec(self, *cmd: str, timeout: float = 120, user: str | None = None) -> subprocess.CompletedProcess:
        args = ["exec", *(["-u", user] if user else []), self.id, *cmd]
        return docker(*args, timeout=timeout, check=False)

    def logs(self) -> str:
        result = docker("logs", self.id, check=False)
        return result.stdout + result.stderr

    def port(self, container_port: int) -> int:
        mapping = docker("port", self.id, f"{container_port}/tcp").stdout.split()[0]
        return int(mapping.rsplit(":", 1)[1])

    def stop(self, timeout: int = 10) -> tuple[int, float]:
        """docker stop: (exit status, seconds it took)."""
        start = time.monotonic()
        docker("stop", "-t", str(timeout), self.id, timeout=timeout + 30)
        took = time.monotonic() - start
        return self.inspect()["State"]["ExitCode"], took


class Containers:
    """Starts containers for one test and removes every one of them afterwards."""

    def __init__(self, image: str):
        self.image = image
        self.started: list[Container] = []

    def run(
        self,
        *command: str,
        env: dict[str, str] | None = None,
        ports=(),
        opts=(),
        expected: tuple[str, ...] = (),
        image: str | None = None,
    ) -> Container:
        args = ["run", "-d"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        for p in ports:
            args += ["-p", f"127.0.0.1::{p}"]
        result = docker(*args, *opts, image or self.image, *command)
        self.started.append(Container(result.stdout.strip(), expected))
        return self.started[-1]

    def remove_all(self) -> list[str]:
        """Remove every container; return the problem lines their logs held."""
        found = []
        for c in self.started:
            found += [f"{c.id[:12]}: {line}" for line in problems(c.logs(), c.expected)]
            docker("rm", "-f", "-v", c.id, check=False)
        self.started.clear()
        return found


def ssh(port: int, key: Path, user: str, *command: str, extra=()) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-p", str(port), "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", *extra, f"{user}@127.0.0.1", *command],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def api(port: int, token: str, path: str, body: dict | None = None, method: str = "GET") -> tuple[int, Any]:
    """Jupyter's REST API as a browser's script calls it: (status, parsed JSON or None)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            data = r.read()
            return r.status, json.loads(data) if data else None
    except urllib.error.HTTPError as e:
        return e.code, None


async def execute(url: str, token: str, code: str, until: str = "idle", timeout: float = 90) -> str:
    """Run `code` in a kernel over its websocket, as JupyterLab does (Jupyter's messaging
    protocol, JSON over the websocket); its stdout. until="started": return once the kernel
    has begun running it (code that never ends). timeout: seconds for it all."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "", "session": uuid.uuid4().hex,
              "date": "", "version": "5.3"}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    message = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}
    await ws.write_message(json.dumps(message))
    out = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(ws.read_message(), max(deadline - time.monotonic(), 1))
        if raw is None:
            break
        reply = json.loads(raw)
        if reply.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = reply["header"]["msg_type"]
        if until == "started" and kind == "execute_input":
            break
        if kind == "stream":
            out += reply["content"]["text"]
        elif kind == "error":
            out += "\n".join(reply["content"]["traceback"])
        elif kind == "status" and reply["content"]["execution_state"] == "idle":
            break
    ws.close()
    return out
