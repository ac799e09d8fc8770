"""What of the JupyterHub examples (examples/jupyterhub/) the live hub tests cannot reach here: the
GPU line, on a machine with no GPU. The rest of each example runs under a real Hub in
tests/container/test_hub.py."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from dockerspawner import DockerSpawner
from traitlets.config.loader import PyFileConfigLoader

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "jupyterhub"


def load(example: str, monkeypatch, **env: str):
    monkeypatch.setenv("DEEPDOCKER_HUB_CONNECT_IP", "192.0.2.1")  # no Docker engine asked
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader("jupyterhub_config.py", str(EXAMPLES / example)).load_config()


@pytest.mark.parametrize("gpu", ["1", ""])
def test_the_docker_examples_gpu_line_asks_docker_for_every_gpu(monkeypatch, gpu):
    config = load("docker", monkeypatch, DEEPDOCKER_HUB_GPU=gpu)
    settings = config.DockerSpawner
    # Each setting the example makes is one DockerSpawner has (a typo would be ignored, with a warning).
    assert set(settings) <= set(DockerSpawner.class_trait_names(config=True)), set(settings)
    assert settings.image == ("deepdocker:gpu" if gpu else "deepdocker:cpu")
    # What DockerSpawner hands Docker's API (docker-py builds it offline): `docker run --gpus all`.
    api = docker.APIClient(version="1.43")
    host_config = api.create_host_config(**settings.get("extra_host_config", {}))
    requests = host_config.get("DeviceRequests")
    if gpu:
        assert requests == [{"Driver": "", "Count": -1, "DeviceIDs": [], "Capabilities": [["gpu"]], "Options": {}}]
    else:
        assert not requests
