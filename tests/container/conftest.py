"""The container suite builds the image once per run (the layer cache makes a rebuild cheap)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.container.tracked import Containers, docker

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("DEEPDOCKER_TEST_IMAGE", "deepdocker:cpu")
GPU_IMAGE = os.environ.get("DEEPDOCKER_TEST_GPU_IMAGE", "deepdocker:gpu")


def engine_problem() -> str | None:
    if not shutil.which("docker"):
        return "no docker command"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode:
        return "no Docker engine answers (start dockerd)"
    return None


@pytest.fixture(scope="session")
def image() -> str:
    problem = engine_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the container suite, but: {problem}")
        pytest.skip(f"container tests need a Docker engine: {problem}")
    if os.environ.get("DEEPDOCKER_TEST_NO_BUILD"):
        return IMAGE
    # The frameworks of the image already here (so the build is the layer cache's), else make
    # image's default: every framework that can be had (torch from WHEELHOUSE where its index is
    # unreachable, README "Building"), since the tests import and run each one.
    existing = docker(
        "image", "inspect", "-f", '{{index .Config.Labels "io.deepdocker.frameworks"}}', IMAGE, check=False
    )
    # CI always builds make image's default: an image left here by a narrower build (a `make run` without
    # WHEELHOUSE, say) must not narrow what CI tests.
    here = existing.stdout.strip() if existing.returncode == 0 and not os.environ.get("CI") else ""
    frameworks = os.environ.get("DEEPDOCKER_TEST_FRAMEWORKS") or here
    args = [f"FRAMEWORKS={frameworks}"] if frameworks else []
    subprocess.run(["make", "-C", str(ROOT), "image", *args], check=True, timeout=3600)
    return IMAGE


@pytest.fixture(scope="session")
def gpu_image(image) -> str:
    """Built once per run, like the CPU image (`make image-gpu`; torch from PyPI)."""
    if not os.environ.get("DEEPDOCKER_TEST_NO_BUILD"):
        subprocess.run(["make", "-C", str(ROOT), "image-gpu"], check=True, timeout=3600)
    return GPU_IMAGE


@pytest.fixture(scope="session")
def keypair():
    """An SSH key pair for the tests' logins."""
    folder = Path(tempfile.mkdtemp())
    key = folder / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    yield key
    shutil.rmtree(folder)


@pytest.fixture
def host_dir():
    """A host path that does not exist yet, under a folder removed afterwards: Docker makes it (as root)."""
    parent = Path(tempfile.mkdtemp(prefix="deepdocker-mount-"))
    yield parent / "sharedfolder"
    subprocess.run(["rm", "-rf", str(parent)], check=False)


@pytest.fixture
def containers(image):
    c = Containers(image)
    yield c
    found = c.remove_all()
    if found:
        pytest.fail("the containers logged problems this test did not expect:\n" + "\n".join(found))
