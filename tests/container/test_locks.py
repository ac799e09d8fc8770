"""Each Python environment in each image holds exactly what its lock pins (scripts/locks, make lock):
nothing unlocked, no other version, the image's locks the checkout's. The build installed them with
`pip --require-hashes` (scripts/locks.sh); this is what came of it."""

from __future__ import annotations

import re

import pytest

from tests.container.conftest import ROOT
from tests.container.tracked import docker

pytestmark = pytest.mark.container

# Each environment: its prefix in the image and the lock it installs from ({variant}: cpu or gpu).
ENVIRONMENTS = {
    "/opt/venv": "user-{variant}",
    "/opt/deepdocker/tensorboard": "tensorboard",
    "/opt/deepdocker/venv": "control-plane",
}
EVERY_FRAMEWORK = {"torch", "tensorflow", "keras", "pytensor", "onnx"}
SCRIPT = r"""
python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])'
uname -m
cat /opt/deepdocker/frameworks
for env in /opt/venv /opt/deepdocker/tensorboard /opt/deepdocker/venv; do
  echo "== $env"
  [ ! -x "$env/bin/pip" ] || "$env/bin/pip" freeze --all --disable-pip-version-check
done
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """name: version of each `name==version` line, or the URL of a `name @ URL` one (pip freeze)."""
    found = re.finditer(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?(?:==| @ )(\S+)", text, re.M)
    return {canonical(m[1]): m[2] for m in found}


def frozen(image: str) -> tuple[str, str, set[str], dict[str, dict[str, str]]]:
    """The image's Python, machine, frameworks and each environment's `pip freeze --all`."""
    out = docker("run", "--rm", "--entrypoint", "/bin/bash", image, "-c", SCRIPT, timeout=300).stdout
    head, *blocks = out.split("== ")
    python, machine, *frameworks = head.split()
    envs = {}
    for block in blocks:
        prefix, _, freeze = block.partition("\n")
        if freeze.strip():
            envs[prefix] = pins(freeze)
    return python, machine, set(frameworks), envs


FIXTURES = {"cpu": "image", "gpu": "gpu_image", "cpu-arm64": "arm64_image"}
MACHINES = {"cpu": "x86_64", "gpu": "x86_64", "cpu-arm64": "aarch64"}


@pytest.mark.parametrize("variant", ["cpu", "gpu", "cpu-arm64"])
def test_every_environment_holds_exactly_its_lock(request, variant):
    image = request.getfixturevalue(FIXTURES[variant])
    python, machine, frameworks, envs = frozen(image)
    assert machine == MACHINES[variant]
    assert set(envs) >= {"/opt/venv", "/opt/deepdocker/venv"}, envs.keys()
    for prefix, packages in envs.items():
        name = ENVIRONMENTS[prefix].format(variant=variant.split("-")[0])
        path = f"scripts/locks/{name}-py{python}-{machine}.txt"
        in_image = docker("run", "--rm", "--entrypoint", "cat", image, f"/usr/local/lib/deepdocker/{path[8:]}").stdout
        assert in_image == (ROOT / path).read_text(), f"{image} was built from another {path} than this checkout's"
        locked = pins(in_image)
        # A torch the lock could not hash where it was made is pinned by version (its third line).
        unhashed = re.search(r"^# unhashed: torch==(\S+)", in_image, re.M)
        if unhashed:
            locked["torch"] = unhashed[1]
        if prefix == "/opt/deepdocker/venv":
            # The control plane itself, from this checkout's source.
            assert packages.pop("deepdocker") == "file:///opt/deepdocker/src"
        unlocked = {p: v for p, v in packages.items() if p not in locked}
        assert not unlocked, f"{image} {prefix}: not in {path}: {unlocked}"
        other = {p: (v, locked[p]) for p, v in packages.items() if locked[p] != v}
        assert not other, f"{image} {prefix}: (installed, locked) differ: {other}"
        if prefix != "/opt/venv" or frameworks == EVERY_FRAMEWORK:
            # FRAMEWORKS narrower than every framework installs a part of the user's lock.
            missing = set(locked) - set(packages)
            assert not missing, f"{image} {prefix}: locked, not installed: {missing}"
