# JupyterHub spawning deepdocker on a Docker Swarm (SwarmSpawner): one service per user, placed by
# the swarm on any node. Run the Hub on a manager node:
#   pip install jupyterhub dockerspawner jupyterhub-idle-culler; npm install -g configurable-http-proxy
#   jupyterhub -f jupyterhub_config.py
# Every node needs the image (docker load it there) and DEEPDOCKER_HOMES mounted at the same path
# (NFS or the like): each user's folder there is bind-mounted as their home. The tests start a real
# Hub on a single-node swarm with this very file (tests/container/test_hub.py).
import os

import docker
from dockerspawner import SwarmSpawner

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)


class NodePortSwarmSpawner(SwarmSpawner):
    """Publishes each user's Jupyter on a port of the node that runs it (publish mode "host") and
    reaches it there: the Hub runs on a manager, outside the swarm's overlay networks, and needs no
    routing mesh (which needs IPVS in every node's kernel). SwarmSpawner alone expects the Hub in a
    container on the users' overlay network."""

    async def get_ip_and_port(self):
        task = await self.get_task()
        ports = [p for p in task["Status"].get("PortStatus", {}).get("Ports", ()) if p["TargetPort"] == self.port]
        if not ports:
            raise RuntimeError(f"the swarm published no port for {self.service_name}")
        node = await self.docker("inspect_node", task["NodeID"])
        return node["Status"]["Addr"], ports[0]["PublishedPort"]


HOMES = os.environ.get("DEEPDOCKER_HOMES", "/srv/deepdocker/homes")
# jovyan in the image: each user's folder is theirs inside the container.
NB_UID, NB_GID = 1000, 100

c.JupyterHub.spawner_class = NodePortSwarmSpawner
c.SwarmSpawner.image = os.environ.get("DEEPDOCKER_IMAGE", "deepdocker:cpu")
c.SwarmSpawner.cmd = ["start-singleuser.py"]
c.SwarmSpawner.environment = {"SERVICES": "jupyter,tensorboard"}
c.SwarmSpawner.name_template = "deepdocker-{username}"
c.SwarmSpawner.volumes = {os.path.join(HOMES, "{username}"): "/home/jovyan"}
# Each user's Jupyter gets a free port on its node (it answers nobody without the Hub's login).
c.SwarmSpawner.use_internal_ip = False
c.SwarmSpawner.extra_endpoint_spec = {"ports": [{"Protocol": "tcp", "TargetPort": 8888, "PublishMode": "host"}]}
# Swarm replaces a task whose HEALTHCHECK fails; deepdocker's looks at Jupyter alone
# (deepdocker-health --live), so a restarting TensorBoard never costs a user their lab.
c.Spawner.mem_limit = os.environ.get("DEEPDOCKER_MEM_LIMIT", "8G")
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


def make_home(spawner):
    """Swarm does not create a bind mount's source: the user's folder, theirs, before each start."""
    home = os.path.join(HOMES, spawner.user.name)
    if not os.path.isdir(home):
        os.makedirs(home, mode=0o750)
        os.chown(home, NB_UID, NB_GID)


c.Spawner.pre_spawn_hook = make_home

# The user servers call the Hub back at this manager's swarm address (every node can reach it).
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = (
    os.environ.get("DEEPDOCKER_HUB_CONNECT_IP") or docker.from_env().info()["Swarm"]["NodeAddr"]
)

c.JupyterHub.services = [
    {"name": "idle-culler", "command": ["python3", "-m", "jupyterhub_idle_culler", "--timeout=3600"]},
]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
]  # fmt: skip
