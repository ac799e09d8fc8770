"""A real JupyterHub (configurable-http-proxy, a Spawner) started from one of the examples in
examples/jupyterhub/, with what a test needs on top: free ports, its own database, a dummy
authenticator, an API token of the test's own. Used by test_hub.py and bench/hub.py."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.container.tracked import docker
from tests.helpers import free_ports, wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "jupyterhub"
PROXY = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
ADMIN_TOKEN = "hub-test-admin-token-0123456789abcdef"
# On top of the example: what makes it a test's Hub, not anybody's.
TEST_CONFIG = """
PREFIX = {prefix!r}
load_subconfig({example!r})
if c.JupyterHub.spawner_class == "dockerspawner.DockerSpawner":
    # The example's volumes, under this test's name (removed after it).
    c.DockerSpawner.volumes = {{f"{{PREFIX}}-{{k}}": v for k, v in c.DockerSpawner.volumes.items()}}
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{folder}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/hub.pid"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = "{folder}/proxy.pid"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {users!r}
c.DockerSpawner.name_template = c.SwarmSpawner.name_template = PREFIX + "-{{username}}"
# The Hub notices a server that ended within seconds, not its default 30.
c.Spawner.poll_interval = 2
c.JupyterHub.services.append({{"name": "tester", "api_token": {admin!r}}})
c.JupyterHub.load_roles.append({{"name": "tester", "services": ["tester"],
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:users"]}})
{extra}
"""


def proxy_problem() -> str | None:
    if PROXY.exists():
        return None
    return f"JupyterHub's proxy is not installed ({PROXY}: make venv installs it where npm is)"


def call(url: str, token: str | None = None, method: str = "GET", body: dict | None = None):
    """(status, parsed JSON or text, the URL it ended at); redirects are followed."""
    headers = {"Authorization": f"token {token}"} if token else {}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            raw = r.read().decode(errors="replace")
            try:
                return r.status, json.loads(raw) if raw else None, r.url
            except ValueError:
                return r.status, raw, r.url
    except urllib.error.HTTPError as e:
        return e.code, None, e.url
    except urllib.error.URLError:  # nothing listening yet
        return 0, None, url


class Hub:
    def __init__(self, url: str, prefix: str, log: Path):
        self.url = url
        self.api = f"{url}/hub/api"
        # Containers, services and volumes the Hub makes for this test start with it.
        self.prefix = prefix
        self.log = log

    def user(self, name: str) -> dict:
        return call(f"{self.api}/users/{name}", ADMIN_TOKEN)[1] or {}

    def server(self, name: str) -> dict | None:
        return self.user(name).get("servers", {}).get("")

    def spawn(self, name: str) -> None:
        """Ask for the user's server (as the spawn button does); returns at once."""
        status = call(f"{self.api}/users/{name}/server", ADMIN_TOKEN, "POST")[0]
        assert status in (201, 202), (status, self.log.read_text()[-3000:])

    def wait_ready(self, name: str, timeout: float = 180) -> None:
        def ready():
            server = self.server(name)
            if server is None and "Unhandled error starting" in self.log.read_text():
                raise AssertionError(self.log.read_text()[-5000:])
            return server and server.get("ready")

        wait_until(ready, timeout, interval=0.2, what=f"{name}'s server")

    def stop(self, name: str) -> None:
        assert call(f"{self.api}/users/{name}/server", ADMIN_TOKEN, "DELETE")[0] in (202, 204)

    def token(self, name: str) -> str:
        status, made, _ = call(f"{self.api}/users/{name}/tokens", ADMIN_TOKEN, "POST",
                               {"scopes": [f"access:servers!user={name}"]})  # fmt: skip
        assert status in (200, 201), status
        return made["token"]


@contextlib.contextmanager
def running(
    folder: Path, example: str, extra: str = "", env: dict[str, str] | None = None, users=("alice",)
) -> Iterator[Hub]:
    """A Hub from examples/jupyterhub/<example>/jupyterhub_config.py; everything it made is removed after."""
    port, hub_port, proxy_api_port = free_ports(3)
    prefix = f"deepdocker-hub-test-{os.getpid()}-{port}"
    config = folder / "jupyterhub_config.py"
    config.write_text(
        TEST_CONFIG.format(example=str(EXAMPLES / example / "jupyterhub_config.py"), port=port, hub_port=hub_port,
                           proxy_api_port=proxy_api_port, folder=folder, proxy=str(PROXY), users=set(users),
                           prefix=prefix, admin=ADMIN_TOKEN, extra=extra)
    )  # fmt: skip
    bin_dir = Path(sys.executable).parent
    hub_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(folder), **(env or {})}
    log_path = folder / "hub.log"
    log = log_path.open("w")
    proc = subprocess.Popen([str(bin_dir / "jupyterhub"), "-f", str(config)], cwd=folder, env=hub_env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    hub = Hub(f"http://127.0.0.1:{port}", prefix, log_path)
    try:
        wait_until(lambda: (proc.poll() is None and call(f"{hub.api}/")[0] == 200) or proc.poll() is not None, 60,
                   what="the Hub's API")  # fmt: skip
        assert proc.poll() is None, log_path.read_text()[-5000:]
        yield hub
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        remove_everything(prefix)
        sys.stderr.write(log_path.read_text()[-3000:])


def remove_everything(prefix: str) -> None:
    for kind, listing, remove in (
        ("service", ["service", "ls", "-q", "-f", f"name={prefix}"], ["service", "rm"]),
        ("container", ["ps", "-aq", "-f", f"name={prefix}"], ["rm", "-f", "-v"]),
        ("volume", ["volume", "ls", "-q", "-f", f"name={prefix}"], ["volume", "rm", "-f"]),
    ):
        found = docker(*listing, check=False).stdout.split()
        for name in found:
            docker(*remove, name, check=False)
        if kind == "service" and found:  # a service's containers go a moment after it
            time.sleep(2)
