"""The Zero to JupyterHub values people copy (examples/jupyterhub/kubernetes/values.yaml), built into
the user pod by KubeSpawner's own code and checked with the Kubernetes client's models: no cluster is
reachable where deepdocker is built and tested.

The chart turns `singleuser.*` values into KubeSpawner settings in its hub's jupyterhub_config.py
(https://z2jh.jupyter.org, "Configuration reference"); `chart_config` below does the same for every key
the example uses, and fails on any other key, so the example cannot grow a setting nobody checked.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import kubespawner
import pytest
import yaml
from jupyterhub.objects import Server
from kubernetes_asyncio.client import ApiClient
from traitlets.config import Config

VALUES = Path(__file__).resolve().parents[2] / "examples" / "jupyterhub" / "kubernetes" / "values.yaml"
HEALTH = "/opt/deepdocker/venv/bin/deepdocker-health"

# singleuser.<key> -> KubeSpawner trait, as the chart maps them.
SIMPLE = {
    "cmd": "cmd",
    "defaultUrl": "default_url",
    "extraEnv": "environment",
    "uid": "uid",
    "fsGid": "fs_gid",
    "startTimeout": "start_timeout",
    "extraContainerConfig": "extra_container_config",
    "profileList": "profile_list",
}
NESTED = {("cpu", "limit"): "cpu_limit", ("cpu", "guarantee"): "cpu_guarantee",
          ("memory", "limit"): "mem_limit", ("memory", "guarantee"): "mem_guarantee"}  # fmt: skip


def chart_config(values: dict) -> Config:
    c = Config()
    k = c.KubeSpawner
    single = copy.deepcopy(values["singleuser"])
    image = single.pop("image")
    k.image = f"{image.pop('name')}:{image.pop('tag')}"
    assert not image, f"singleuser.image keys nobody maps: {image}"
    for (group, key), trait in NESTED.items():
        if key in single.get(group, {}):
            k[trait] = single[group].pop(key)
    for group in ("cpu", "memory"):
        assert not single.pop(group, {}), f"singleuser.{group}: keys nobody maps"
    storage = single.pop("storage")
    assert storage.pop("type") == "dynamic"
    # The chart's dynamic storage: a PVC per user, made before the spawn, mounted at homeMountPath.
    k.pvc_name_template = "claim-{username}{servername}"
    k.storage_pvc_ensure = True
    k.storage_capacity = storage.pop("capacity")
    k.volumes = [{"name": "volume-{username}{servername}",
                  "persistentVolumeClaim": {"claimName": "claim-{username}{servername}"}}]  # fmt: skip
    k.volume_mounts = [{"mountPath": storage.pop("homeMountPath"), "name": "volume-{username}{servername}"}]
    assert not storage, f"singleuser.storage keys nobody maps: {storage}"
    for key, trait in SIMPLE.items():
        if key in single:
            k[trait] = single.pop(key)
    assert not single, f"singleuser keys nobody maps: {sorted(single)}"
    cull = values["cull"]
    assert cull["enabled"] is True and cull["timeout"] > 0 and cull["every"] > 0
    assert set(values) == {"singleuser", "cull"}, sorted(values)
    return c


class Hub:
    public_host = ""
    url = "http://hub:8081/hub/"
    base_url = "/"
    api_url = "http://hub:8081/hub/api"


class User:
    name = "alice"
    id = 7
    url = "/user/alice/"
    escaped_name = "alice"


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://kubernetes.invalid:6443"}}]
users: [{name: none, user: {token: not-a-token}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


@pytest.fixture(autouse=True)
def no_cluster(tmp_path, monkeypatch):
    """KubeSpawner reads a cluster's address at start; it is never contacted here (nothing is)."""
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG)
    # Read once, when the client is imported: the default location itself is what to change.
    monkeypatch.setattr("kubernetes_asyncio.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(config))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def pod(profile: str | None) -> dict:
    """The pod KubeSpawner would ask the cluster for, as the API would receive it."""
    values = yaml.safe_load(VALUES.read_text())

    async def build():
        spawner = kubespawner.KubeSpawner(config=chart_config(values), user=User(), hub=Hub(), _mock=True)
        spawner.api_token = "hub-token-for-the-test"
        spawner.server = Server(base_url="/user/alice/")  # what the Hub gives a spawner it starts
        spawner.user_options = {"profile": profile} if profile else {}
        await spawner.load_user_options()
        manifest = await spawner.get_pod_manifest()
        client = ApiClient()
        try:
            sent = client.sanitize_for_serialization(manifest)
            # Through the client's models and back: a field the models do not know would be lost.
            again = client.sanitize_for_serialization(client._ApiClient__deserialize(sent, "V1Pod"))
        finally:
            await client.close()
        # (Quantities come back as strings: KubeSpawner sends 0.5 and 1073741824, the API takes both.)
        assert scalars_as_text(again) == scalars_as_text(sent)
        return sent

    return asyncio.run(build())


def scalars_as_text(value):
    if isinstance(value, dict):
        return {k: scalars_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scalars_as_text(v) for v in value]
    return value if isinstance(value, (bool, str)) or value is None else str(value)


def container(manifest: dict) -> dict:
    (notebook,) = [c for c in manifest["spec"]["containers"] if c["name"] == "notebook"]
    return notebook


def test_the_values_build_a_pod_that_runs_deepdocker_as_the_hubs_server():
    manifest = pod(None)
    c = container(manifest)
    assert c["image"] == "registry.example.org/deepdocker:cpu"
    # The image's ENTRYPOINT stays (no command); the Hub's start is its args.
    assert "command" not in c and c["args"][0] == "start-singleuser.py"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["SERVICES"] == "jupyter,tensorboard"
    assert env["JUPYTERHUB_API_TOKEN"] and env["JUPYTERHUB_SERVICE_PREFIX"] == "/user/alice/"
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/lab"  # read by the single-user server itself
    assert c["ports"][0]["containerPort"] == 8888
    # jovyan, group users on the volume, no way to more privileges.
    assert c["securityContext"]["runAsUser"] == 1000 and c["securityContext"]["allowPrivilegeEscalation"] is False
    assert manifest["spec"]["securityContext"]["fsGroup"] == 100
    assert c["resources"]["limits"] == {"cpu": 4, "memory": 8 << 30}
    assert c["resources"]["requests"] == {"cpu": 0.5, "memory": 1 << 30}
    # The probes: liveness (the HEALTHCHECK's view) for startup and liveness, readiness for readiness.
    assert c["startupProbe"]["exec"]["command"] == [HEALTH, "--live"]
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 180
    assert c["livenessProbe"]["exec"]["command"] == [HEALTH, "--live"]
    assert c["readinessProbe"]["exec"]["command"] == [HEALTH]
    # The home: the user's own claim, at jovyan's home.
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/home/jovyan"]
    (volume,) = [v for v in manifest["spec"]["volumes"] if v["name"] == mount["name"]]
    assert volume["persistentVolumeClaim"]["claimName"] == "claim-alice"


def test_the_gpu_profile_asks_for_a_gpu_and_the_gpu_image():
    c = container(pod("gpu"))
    assert c["image"] == "registry.example.org/deepdocker:gpu"
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert c["livenessProbe"]["exec"]["command"] == [HEALTH, "--live"]


def test_a_key_nobody_maps_fails_the_check():
    values = yaml.safe_load(VALUES.read_text())
    values["singleuser"]["extraVolumez"] = []
    with pytest.raises(AssertionError, match="extraVolumez"):
        chart_config(values)
