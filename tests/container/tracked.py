"""Containers that tests start and always remove (after docker-stacks' TrackedContainer)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import testinfra

from tests.helpers import wait_until


def docker(*args: str, timeout: float = 120, check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


class Container:
    def __init__(self, cid: str):
        self.id = cid
        self.host = testinfra.get_host(f"docker://{cid}")

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
        self.ids: list[str] = []

    def run(self, *command: str, env: dict[str, str] | None = None, ports=(), opts=()) -> Container:
        args = ["run", "-d"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        for p in ports:
            args += ["-p", f"127.0.0.1::{p}"]
        result = docker(*args, *opts, self.image, *command)
        self.ids.append(result.stdout.strip())
        return Container(self.ids[-1])

    def remove_all(self) -> None:
        for cid in self.ids:
            docker("rm", "-f", "-v", cid, check=False)
        self.ids.clear()
