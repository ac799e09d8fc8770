"""A real JupyterHub (configurable-http-proxy, DockerSpawner or SwarmSpawner) spawning the image from
the examples people copy (examples/jupyterhub/), driven through the Hub's REST API and its proxy as a
browser and an admin would."""

from __future__ import annotations

import asyncio
import json
import os
import socket

import psutil
import pytest

from tests.container import hubs
from tests.container.hubs import call
from tests.container.tracked import docker, execute, problems
from tests.helpers import wait_until

# The Hub's own pages and refusals: not problems of the image.
EXPECTED = (r"\| \[[EC] .*(401|403)",)


@pytest.fixture
def hub_folder(image, tmp_path):
    problem = hubs.proxy_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return tmp_path


def run_code(hub: hubs.Hub, token: str, kernel_name: str, code: str) -> str:
    base = f"{hub.url}/user/alice/api/kernels"
    status, kernel, _ = call(base, token, "POST", {"name": kernel_name})
    assert status == 201, status
    try:
        return asyncio.run(execute(f"{base.replace('http', 'ws', 1)}/{kernel['id']}/channels", token, code))
    finally:
        call(f"{base}/{kernel['id']}", token, "DELETE")


def container_of(hub: hubs.Hub) -> str:
    cid = docker("ps", "-q", "-f", f"name={hub.prefix}-alice").stdout.strip()
    assert cid, docker("ps", "-a").stdout
    return cid


def listening(cid: str) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket in the container, from /proc/net/tcp{,6}."""
    out = docker("exec", cid, "cat", "/proc/net/tcp", "/proc/net/tcp6").stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":  # LISTEN
            address, port = fields[1].rsplit(":", 1)
            found.add((address, int(port, 16)))
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}


def volume_owner(volume: str, image: str, path: str) -> str:
    """uid:gid of `path` in a Docker volume, seen from a throwaway container."""
    args = ("run", "--rm", "-v", f"{volume}:/v", "--entrypoint", "stat", image, "-c", "%u:%g", f"/v/{path}")
    return docker(*args).stdout.strip()


@pytest.mark.parametrize(
    "cmd",
    [
        "",
        "c.DockerSpawner.cmd = None  # the image's own CMD, not the example's",
        # As the Zero to JupyterHub values run it (examples/jupyterhub/kubernetes): uid 1000, group 100, no root.
        'c.DockerSpawner.extra_create_kwargs = {"user": "1000:100"}',
    ],
)
def test_a_user_reaches_jupyter_kernels_and_tensorboard_through_the_hub_and_nowhere_else(hub_folder, image, cmd):
    with hubs.running(hub_folder, "docker", cmd, {"DEEPDOCKER_IMAGE": image}) as hub:
        hub.spawn("alice")
        hub.wait_ready("alice")
        cid = container_of(hub)
        token = hub.token("alice")

        # Through the Hub's proxy with the user's token: Jupyter's API, a Python and an R kernel.
        assert call(f"{hub.url}/user/alice/api/status", token)[0] == 200
        made = "open('made-by-python.txt', 'w').write('x'); print(6 * 7)"
        assert run_code(hub, token, "python3", made) == "42\n"
        assert run_code(hub, token, "ir", "cat(6 * 7)") == "42"
        body = {"type": "file", "format": "text", "content": "saved"}
        assert call(f"{hub.url}/user/alice/api/contents/saved.txt", token, "PUT", body)[0] in (200, 201)
        # TensorBoard under the user's prefix (started by this first request), behind the same login.
        status, page, _ = call(f"{hub.url}/user/alice/tensorboard/", token)
        assert status == 200 and "TensorBoard" in page

        # Without a login: the Hub's login page or a refusal, never the lab, its API or TensorBoard.
        for path in ("/user/alice/api/contents", "/user/alice/tensorboard/", "/user/alice/lab"):
            status, _, ended = call(f"{hub.url}{path}")
            assert status == 403 or (status == 200 and "/hub/login" in ended), (path, status, ended)
        # From the container network: Jupyter's port is the only one, and it wants the Hub's login.
        outside = {port for address, port in listening(cid) if address not in LOOPBACK}
        assert outside == {8888}, listening(cid)
        address = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", cid).stdout.strip()
        probe = (
            "import urllib.request as u, urllib.error as e, sys\n"
            "for path in sys.argv[1:]:\n"
            "    try: r = u.urlopen(path, timeout=10); print(r.status, r.url)\n"
            "    except e.HTTPError as x: print(x.code, x.url)\n"
            "    except OSError as x: print('refused', path)\n"
        )
        urls = [f"http://{address}:8888/user/alice/api/contents", f"http://{address}:8888/user/alice/tensorboard/",
                f"http://{address}:6006/"]  # fmt: skip
        seen = docker("run", "--rm", "--entrypoint", "/opt/deepdocker/venv/bin/python", image, "-c", probe, *urls)
        lines = seen.stdout.splitlines()
        assert lines[0].startswith("403 ") and lines[2] == f"refused {urls[2]}", lines
        assert lines[1].startswith("403 ") or "/hub/" in lines[1], lines  # sent to the Hub's login

        # Inside: the Hub's single-user server, as jovyan, healthy, the only holder of the Hub's token.
        # The command the Kubernetes probes run, by the container's user.
        assert docker("exec", cid, "/opt/deepdocker/venv/bin/deepdocker-health", "--live").returncode == 0
        health = json.loads(docker("exec", cid, "deepdocker-health", "--json").stdout)
        assert health["healthy"] and health["services"]["jupyter"]["probe"] == "GET /user/alice/api: 200"
        pid = docker("exec", cid, "pgrep", "-o", "-f", "bin/jupyterhub-singleuser").stdout.strip()
        assert docker("exec", cid, "ps", "-o", "user=", "-p", pid).stdout.strip() == "jovyan"
        board = health["services"]["tensorboard"]["pid"]
        environ = docker("exec", "-u", "jovyan", cid, "cat", f"/proc/{board}/environ").stdout.split("\0")
        assert "JUPYTERHUB_API_TOKEN=" in environ, "TensorBoard has the Hub's token"
        # A TensorBoard that dies does not end the user's server.
        docker("exec", cid, "kill", "-9", str(board))
        assert docker("exec", cid, "deepdocker-health", "--live", check=False).returncode == 0
        wait_until(lambda: docker("exec", cid, "deepdocker-health", check=False).returncode == 0, 60, what="ready")
        assert call(f"{hub.url}/user/alice/tensorboard/", token)[0] == 200
        logs = docker("logs", cid).stdout + docker("logs", cid).stderr

        # Stopped through the Hub's API: the container goes, the files stay in the user's volume, theirs.
        hub.stop("alice")
        wait_until(lambda: not docker("ps", "-aq", "-f", f"name={hub.prefix}-alice").stdout.strip(), 30,
                   what="the container to go")  # fmt: skip
        volume = f"{hub.prefix}-deepdocker-home-alice"
        assert volume_owner(volume, image, "saved.txt") == "1000:100"
        assert volume_owner(volume, image, "made-by-python.txt") == "1000:100"
    assert not problems(logs, expected=EXPECTED), logs[-3000:]


def test_a_reused_container_starts_clean_and_the_container_ends_with_jupyter(hub_folder, image):
    # DockerSpawner with remove=False starts the user's stopped container again (docker start):
    # its run folder still holds the last start's sockets, pid file and state.
    with hubs.running(hub_folder, "docker", "c.DockerSpawner.remove = False", {"DEEPDOCKER_IMAGE": image}) as hub:
        hub.spawn("alice")
        hub.wait_ready("alice")
        cid = container_of(hub)
        hub.stop("alice")
        wait_until(lambda: not docker("ps", "-q", "-f", f"id={cid}").stdout.strip(), 30, what="a stop")
        assert docker("exec", cid, "true", check=False).returncode != 0  # stopped, not removed
        hub.spawn("alice")
        hub.wait_ready("alice")
        assert container_of(hub) == cid
        token = hub.token("alice")
        assert call(f"{hub.url}/user/alice/api/status", token)[0] == 200
        report = json.loads(docker("exec", cid, "deepdocker-health", "--json").stdout)
        assert report["healthy"] and report["services"]["jupyter"]["restarts"] == 0

        # Jupyter ends (its user shut it down): every daemon stops, the container exits 0, the Hub sees it.
        assert call(f"{hub.url}/user/alice/api/shutdown", token, "POST")[0] == 200
        wait_until(lambda: docker("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() == "false", 30,
                   what="the container to exit")  # fmt: skip
        assert docker("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip() == "0"
        wait_until(lambda: hub.server("alice") is None, 30, interval=0.5, what="the Hub to see the server gone")
        logs = docker("logs", cid).stdout + docker("logs", cid).stderr
        assert "jupyter ended (exit status 0): stopping everything, exit status 0" in logs


def test_the_idle_culler_stops_an_idle_server(hub_folder, image):
    # The example's culler, with 10 s for its hour.
    culler = 'c.JupyterHub.services[0]["command"][-1:] = ["--timeout=10", "--cull-every=5"]'
    with hubs.running(hub_folder, "docker", culler, {"DEEPDOCKER_IMAGE": image}) as hub:
        hub.spawn("alice")
        hub.wait_ready("alice")
        container_of(hub)
        wait_until(lambda: hub.server("alice") is None, 90, interval=1, what="the culler to stop alice's server")
        wait_until(lambda: not docker("ps", "-aq", "-f", f"name={hub.prefix}-alice").stdout.strip(), 30,
                   what="the container to go")  # fmt: skip
        assert "Culling server alice" in hub.log.read_text()


def test_rstudio_sits_behind_the_hubs_login_where_the_image_has_it(hub_folder, image):
    probe = ("run", "--rm", "--entrypoint", "test", image, "-x", "/usr/lib/rstudio-server/bin/rserver")
    if docker(*probe, check=False).returncode:
        pytest.skip("RStudio Server is not in this image: Posit's download could not be reached at build time")
    extra = 'c.DockerSpawner.environment = {"SERVICES": "jupyter,rstudio"}'
    with hubs.running(hub_folder, "docker", extra, {"DEEPDOCKER_IMAGE": image}) as hub:
        hub.spawn("alice")
        hub.wait_ready("alice")
        token = hub.token("alice")
        status, page, _ = call(f"{hub.url}/user/alice/rstudio/", token)
        assert status == 200 and "RStudio" in page, status
        status, _, ended = call(f"{hub.url}/user/alice/rstudio/")
        assert status == 403 or (status == 200 and "/hub/login" in ended), (status, ended)
        assert {port for address, port in listening(container_of(hub)) if address not in LOOPBACK} == {8888}


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge. dockerd 20.10 may leave the Gateway out of
    the bridge's IPAM config (seen after a restart): then the bridge interface's own address."""
    template = '{{range .IPAM.Config}}{{.Gateway}} {{end}}|{{index .Options "com.docker.network.bridge.name"}}'
    found = docker("network", "inspect", "bridge", "-f", template)
    gateways, _, interface = found.stdout.strip().partition("|")
    address = next(iter(gateways.split()), "")
    if not address:
        addrs = psutil.net_if_addrs().get(interface or "docker0", [])
        address = next((a.address for a in addrs if a.family == socket.AF_INET), "")
    assert address, f"no address of this host on Docker's default bridge: {found.stdout!r}"
    return address


@pytest.fixture
def swarm(image):
    """A single-node Docker Swarm: this engine's, or one made for the test and left after it."""
    state = docker("info", "-f", "{{.Swarm.LocalNodeState}}").stdout.strip()
    made = state != "active"
    if made:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        # An address of this node's that a task's container reaches the Hub on (the node's swarm
        # address here is 127.0.0.1, the container's own loopback): the default bridge's gateway.
        yield bridge_gateway()
    finally:
        if made:
            docker("swarm", "leave", "--force", check=False)


def test_swarmspawner_runs_a_users_server_as_a_swarm_service(hub_folder, image, swarm):
    homes = hub_folder / "homes"
    homes.mkdir()
    env = {"DEEPDOCKER_IMAGE": image, "DEEPDOCKER_HOMES": str(homes), "DEEPDOCKER_HUB_CONNECT_IP": swarm}
    with hubs.running(hub_folder, "swarm", "", env) as hub:
        hub.spawn("alice")
        hub.wait_ready("alice")
        service = docker("service", "ls", "-q", "-f", f"name={hub.prefix}-alice").stdout.strip()
        assert service, docker("service", "ls").stdout
        token = hub.token("alice")
        assert run_code(hub, token, "python3", "open('from-swarm.txt', 'w').write('x'); print(6 * 7)") == "42\n"
        status, page, _ = call(f"{hub.url}/user/alice/tensorboard/", token)
        assert status == 200 and "TensorBoard" in page
        for path in ("/user/alice/api/contents", "/user/alice/tensorboard/"):
            status, _, ended = call(f"{hub.url}{path}")
            assert status == 403 or (status == 200 and "/hub/login" in ended), (path, status, ended)
        # The user's folder on the node (made by the example's pre_spawn_hook), and their files in it, are jovyan's.
        made = homes / "alice" / "from-swarm.txt"
        assert (made.stat().st_uid, made.stat().st_gid) == (1000, 100)
        # The task's container is healthy by the image's HEALTHCHECK (liveness): what Swarm acts on.
        task = docker("ps", "-q", "-f", f"label=com.docker.swarm.service.name={hub.prefix}-alice").stdout.strip()
        wait_until(lambda: docker("inspect", "-f", "{{.State.Health.Status}}", task).stdout.strip() == "healthy", 60,
                   interval=1, what="the task's HEALTHCHECK")  # fmt: skip

        hub.stop("alice")
        wait_until(lambda: not docker("service", "ls", "-q", "-f", f"name={hub.prefix}-alice").stdout.strip(), 30,
                   what="the service to go")  # fmt: skip
        logs = docker("service", "logs", "--raw", service, check=False)
    assert made.exists()
    assert not problems(logs.stdout + logs.stderr, expected=EXPECTED), logs.stdout[-3000:]
