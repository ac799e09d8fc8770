# JupyterHub spawning deepdocker on this machine's Docker engine (DockerSpawner): one container per
# user, each user's home in a Docker volume of their own. Copy it, then set the authenticator.
# Run it on the Docker host: pip install jupyterhub dockerspawner; npm install -g configurable-http-proxy;
# jupyterhub -f jupyterhub_config.py. The tests start a real Hub with this very file (tests/container/test_hub.py).
import ipaddress
import os

import docker
from docker.types import DeviceRequest

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)

c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = os.environ.get("DEEPDOCKER_IMAGE", "deepdocker:cpu")
# deepdocker runs Jupyter as the Hub's single-user server under supervisord, with TensorBoard (and
# RStudio where installed) at /user/NAME/tensorboard/ behind the Hub's login. The image's own
# command does it; "start-singleuser.py" (docker-stacks' recipes) works as well.
c.DockerSpawner.cmd = ["start-singleuser.py"]
# Which daemons each user gets (README, "Environment variables"); sshd only if you mean it.
c.DockerSpawner.environment = {"SERVICES": "jupyter,tensorboard"}
# The home folder persists in a volume per user; Docker fills a new one from the image (owned by jovyan).
c.DockerSpawner.volumes = {"deepdocker-home-{username}": "/home/jovyan"}
# Stopped servers' containers go (the volume stays); the next start is a fresh container.
c.DockerSpawner.remove = True
c.DockerSpawner.name_template = "deepdocker-{username}"

# The containers reach the Hub on the Docker bridge's gateway; the Hub listens there too. An engine
# may leave the gateway out of the network's settings: then it is the subnet's first address.
c.JupyterHub.hub_ip = "0.0.0.0"
_bridge = docker.from_env().networks.get("bridge").attrs["IPAM"]["Config"][0]
c.JupyterHub.hub_connect_ip = (
    os.environ.get("DEEPDOCKER_HUB_CONNECT_IP")
    or _bridge.get("Gateway")
    or str(next(ipaddress.ip_network(_bridge["Subnet"]).hosts()))
)
# A first start builds nothing but may wait on a cold disk: be patient.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180

# GPUs (NVIDIA Container Toolkit on the host): the GPU image and every GPU in each user's server.
if os.environ.get("DEEPDOCKER_HUB_GPU") == "1":
    c.DockerSpawner.image = os.environ.get("DEEPDOCKER_IMAGE", "deepdocker:gpu")
    c.DockerSpawner.extra_host_config = {"device_requests": [DeviceRequest(count=-1, capabilities=[["gpu"]])]}

# Stop servers idle for an hour (pip install jupyterhub-idle-culler).
c.JupyterHub.services = [
    {"name": "idle-culler", "command": ["python3", "-m", "jupyterhub_idle_culler", "--timeout=3600"]},
]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
]  # fmt: skip
