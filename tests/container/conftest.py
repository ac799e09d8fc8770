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
ARM64_IMAGE = os.environ.get("DEEPDOCKER_TEST_ARM64_IMAGE", "deepdocker:cpu-arm64")
# What CI builds for arm64 under emulation every run (README, "Every desktop"): the control plane,
# Jupyter, the SciPy stack, R, torch and Keras (on torch). DEEPDOCKER_TEST_ARM64_FULL=1 (make
# test-arm64): the whole image, every framework and code-server.
ARM64_SLIM = ["FRAMEWORKS=torch keras", "INSTALL_TEX=0", "INSTALL_RSTUDIO=0", "INSTALL_CODE=0", "INSTALL_SHINY=0"]


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


def emulation_problem() -> str | None:
    """Why this machine cannot run arm64 binaries, or None (native arm64, or qemu through binfmt_misc)."""
    if os.uname().machine in ("aarch64", "arm64"):
        return None
    try:
        state = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").read_text().splitlines()[0]
    except OSError:
        state = "absent"
    if state != "enabled":
        return f"binfmt_misc's qemu-aarch64 is {state} (apt-get install qemu-user-static binfmt-support)"
    return None


def arm64_full() -> bool:
    return os.environ.get("DEEPDOCKER_TEST_ARM64_FULL") == "1"


@pytest.fixture(scope="session")
def arm64_image() -> str:
    """The arm64 image, built once per run under emulation: CI's slim one, or the full one."""
    problem = engine_problem() or emulation_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must build and run the arm64 image, but: {problem}")
        pytest.skip(f"the arm64 tests need arm64 binaries to run here: {problem}")
    if not os.environ.get("DEEPDOCKER_TEST_NO_BUILD"):
        args = [] if arm64_full() else ARM64_SLIM
        subprocess.run(["make", "-C", str(ROOT), "image", "PLATFORM=linux/arm64", *args], check=True, timeout=4800)
    return ARM64_IMAGE


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
