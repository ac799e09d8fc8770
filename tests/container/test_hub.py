"""A real JupyterHub (with configurable-http-proxy) spawning the image with DockerSpawner, the way
docker-stacks' JupyterHub recipes configure it (`cmd = start-singleuser.py`, or none at all)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.container.tracked import docker, problems
from tests.helpers import free_ports, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROXY = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
ADMIN_TOKEN = "hub-test-admin-token-0123456789abcdef"
CONFIG = """
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.hub_connect_ip = "{gateway}"
c.JupyterHub.db_url = "sqlite:///{folder}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/hub.pid"
c.ConfigurableHTTPProxy.command = ["{proxy}"]
c.ConfigurableHTTPProxy.pid_file = "{folder}/proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"alice"}}
c.JupyterHub.services = [{{"name": "tester", "api_token": "{admin}"}}]
c.JupyterHub.load_roles = [{{"name": "tester", "services": ["tester"],
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:users"]}}]
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = "{image}"
c.DockerSpawner.name_template = "deepdocker-hub-test-{{username}}-{pid}"
c.DockerSpawner.remove = True
{cmd}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
"""


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


async def execute(url: str, token: str, code: str) -> str:
    """Run `code` in a kernel over its websocket, as JupyterLab does (Jupyter's messaging
    protocol, JSON over the websocket); its stdout."""
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
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(ws.read_message(), 60)
        if raw is None:
            break
        reply = json.loads(raw)
        if reply.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = reply["header"]["msg_type"]
        if kind == "stream":
            out += reply["content"]["text"]
        elif kind == "status" and reply["content"]["execution_state"] == "idle":
            break
    ws.close()
    return out


@pytest.fixture(params=['c.DockerSpawner.cmd = ["start-singleuser.py"]', "# no cmd: the image's own start"])
def hub(request, image, tmp_path):
    if not PROXY.exists():
        reason = f"JupyterHub's proxy is not installed ({PROXY}: make venv installs it where npm is)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    port, hub_port = free_ports(2)
    gateway = docker("network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}").stdout.strip()
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        CONFIG.format(port=port, hub_port=hub_port, gateway=gateway, folder=tmp_path, proxy=PROXY,
                      admin=ADMIN_TOKEN, image=image, pid=os.getpid(), cmd=request.param)
    )  # fmt: skip
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    log = open(tmp_path / "hub.log", "w")  # noqa: SIM115 (open for the Hub's whole life, closed below)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: call(f"{url}/hub/api/")[0] == 200, 60, what="the Hub's API")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        left = docker("ps", "-aq", "-f", f"name=deepdocker-hub-test-alice-{os.getpid()}").stdout.split()
        for cid in left:
            docker("rm", "-f", "-v", cid, check=False)
        sys.stderr.write((tmp_path / "hub.log").read_text()[-3000:])


def test_the_hub_spawns_the_image_and_only_its_login_reaches_it(hub):
    api = f"{hub}/hub/api"
    assert call(f"{api}/users/alice", ADMIN_TOKEN, "POST")[0] in (201, 409)  # 409: allowed_users made it
    assert call(f"{api}/users/alice/server", ADMIN_TOKEN, "POST")[0] in (201, 202)

    def ready():
        status, user, _ = call(f"{api}/users/alice", ADMIN_TOKEN)
        return status == 200 and user["servers"].get("", {}).get("ready")

    wait_until(ready, 180, interval=0.5, what="alice's server")
    name = f"deepdocker-hub-test-alice-{os.getpid()}"
    cid = docker("ps", "-q", "-f", f"name={name}").stdout.strip()
    assert cid
    status, made, _ = call(f"{api}/users/alice/tokens", ADMIN_TOKEN, "POST", {"scopes": ["access:servers!user=alice"]})
    assert status in (200, 201)
    token = made["token"]

    # Through the Hub's proxy with the user's token: Jupyter's API, a kernel, TensorBoard (on demand).
    assert call(f"{hub}/user/alice/api/status", token)[0] == 200
    status, kernel, _ = call(f"{hub}/user/alice/api/kernels", token, "POST", {"name": "python3"})
    assert status == 201
    channels = f"{hub.replace('http', 'ws')}/user/alice/api/kernels/{kernel['id']}/channels"
    assert asyncio.run(execute(channels, token, "print(6 * 7)")) == "42\n"
    assert call(f"{hub}/user/alice/api/kernels/{kernel['id']}", token, "DELETE")[0] == 204
    status, page, _ = call(f"{hub}/user/alice/tensorboard/", token)
    assert status == 200 and "TensorBoard" in page
    # Without a login: the Hub's login page, not the lab or TensorBoard.
    for path in ("/user/alice/api/contents", "/user/alice/tensorboard/", "/user/alice/lab"):
        status, _, ended = call(f"{hub}{path}")
        assert status in (403, 200) and (status == 403 or "/hub/login" in ended), (path, status, ended)
    # Inside: Jupyter is the Hub's single-user server, as the notebook user, healthy.
    health = json.loads(docker("exec", cid, "deepdocker-health", "--json").stdout)
    assert health["healthy"] and health["services"]["jupyter"]["probe"] == "GET /user/alice/api: 200"
    pid = docker("exec", cid, "pgrep", "-o", "-f", "bin/jupyterhub-singleuser").stdout.strip()
    assert pid and docker("exec", cid, "ps", "-o", "user=", "-p", pid).stdout.strip() == "jovyan"
    logs = docker("logs", cid).stdout + docker("logs", cid).stderr

    # Stopped through the Hub's API: the container goes (DockerSpawner's remove=True).
    assert call(f"{api}/users/alice/server", ADMIN_TOKEN, "DELETE")[0] in (202, 204)
    wait_until(lambda: not docker("ps", "-aq", "-f", f"name={name}").stdout.strip(), 60, what="the container to go")
    assert not problems(logs, expected=(r"\| \[[EC] .*(401|403)",)), logs[-3000:]
