"""The linux/arm64 image (Apple silicon, Graviton), built from the same Dockerfile and run here under
emulation (qemu-user-static), as Docker Desktop runs a foreign image: healthy, Jupyter behind its
token, a torch model (and in the full image a Keras one) taking a training step in its Python
kernel, the R kernel running. CI builds the slim image (conftest.ARM64_SLIM); `make test-arm64`
builds the full one and runs these with what only it has (code-server, every framework)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.container.conftest import arm64_full
from tests.container.tracked import Containers, api, docker, execute

pytestmark = pytest.mark.container

TOKEN = "arm64-token-0123456789abcdef"
# Emulated, Python runs 10-12 times slower than natively: a kernel's first import of torch takes
# tens of seconds.
SLOW = 600

TORCH_STEP = """
import torch
torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(32, 4), torch.randn(32, 1)
before = torch.nn.functional.mse_loss(model(x), y).item()
opt.zero_grad(); torch.nn.functional.mse_loss(model(x), y).backward(); opt.step()
after = torch.nn.functional.mse_loss(model(x), y).item()
import platform
print("torch", torch.__version__, platform.machine(), torch.version.cuda, after < before)
"""
# Keras on TensorFlow where the image has it, else on torch (CI's slim image).
KERAS_STEP = """
import importlib.util, os
if importlib.util.find_spec("tensorflow") is None:
    os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, keras, platform
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
history = model.fit(np.random.rand(32, 4), np.random.rand(32, 1), epochs=1, verbose=0)
print("keras", keras.backend.backend(), platform.machine(), len(history.history["loss"]))
"""


@pytest.fixture(scope="module")
def lab(arm64_image):
    """One arm64 lab for the module: starting one under emulation takes a while."""
    containers = Containers(arm64_image)
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN}, ports=[8888])
    c.wait_health(timeout=SLOW)
    yield c
    found = containers.remove_all()
    if found:
        pytest.fail("the arm64 lab logged problems:\n" + "\n".join(found))


def run_in_kernel(port: int, code: str, kernel: str = "python3") -> str:
    status, started = api(port, TOKEN, "/api/kernels", {"name": kernel}, "POST")
    assert status == 201, (status, started)
    url = f"ws://127.0.0.1:{port}/api/kernels/{started['id']}/channels"
    try:
        return asyncio.run(execute(url, TOKEN, code, timeout=SLOW))
    finally:
        api(port, TOKEN, f"/api/kernels/{started['id']}", method="DELETE")


def test_the_image_is_arm64_and_says_what_it_holds(arm64_image):
    inspected = json.loads(docker("image", "inspect", arm64_image).stdout)[0]
    assert inspected["Architecture"] == "arm64" and inspected["Os"] == "linux"
    labels = inspected["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] and labels["org.opencontainers.image.revision"]
    out = docker("run", "--rm", "--entrypoint", "sh", arm64_image, "-c",
                 "uname -m; dpkg --print-architecture; python3 -c 'import platform; print(platform.machine())'",
                 timeout=SLOW).stdout.split()  # fmt: skip
    assert out == ["aarch64", "arm64", "aarch64"]


def test_an_arm64_lab_is_healthy_and_jupyter_wants_its_token(lab):
    health = lab.exec("deepdocker-health", "--json", timeout=SLOW)
    assert health.returncode == 0, health.stdout + health.stderr
    port = lab.port(8888)
    assert api(port, "wrong-token", "/api/contents")[0] == 403
    assert api(port, TOKEN, "/api/contents")[0] == 200
    # Nothing says TensorFlow cannot run on this CPU: that note is the amd64 image's, emulated without AVX.
    assert "AVX" not in lab.logs()


def test_a_torch_model_takes_a_training_step_in_the_python_kernel(lab):
    out = run_in_kernel(lab.port(8888), TORCH_STEP)
    words = out.split()
    # The platform's own CPU build (scripts/platforms/arm64.env): no CUDA in it, no nvidia-* wheels beside.
    assert words[:1] == ["torch"] and words[2:] == ["aarch64", "None", "True"], out
    nvidia = lab.exec("sh", "-c", "ls /opt/venv/lib/python3*/site-packages | grep '^nvidia'")
    assert nvidia.stdout == "", nvidia.stdout


def test_a_keras_model_takes_a_training_step_in_the_python_kernel(lab):
    frameworks = set(lab.exec("cat", "/opt/deepdocker/frameworks").stdout.split())
    assert {"torch", "keras"} <= frameworks
    if arm64_full():
        assert frameworks == {"torch", "tensorflow", "keras", "pytensor", "onnx"}
    out = run_in_kernel(lab.port(8888), KERAS_STEP)
    backend = "tensorflow" if "tensorflow" in frameworks else "torch"
    assert out.split()[1:] == [backend, "aarch64", "1"], out


def test_the_r_kernel_runs(lab):
    out = run_in_kernel(lab.port(8888), 'cat(R.version$arch, sum(1:10), "\\n")', kernel="ir")
    assert out.split() == ["aarch64", "55"], out


def test_code_server_answers_behind_the_login_in_the_full_image(arm64_image):
    if not arm64_full():
        pytest.skip("CI's slim arm64 image has no code-server (conftest.ARM64_SLIM); make test-arm64 runs this")
    containers = Containers(arm64_image)
    try:
        c = containers.run(env={"SERVICES": "jupyter,code", "JUPYTER_TOKEN": TOKEN}, ports=[8888])
        c.wait_health(timeout=SLOW)
        port = c.port(8888)
        assert api(port, "wrong-token", "/code/")[0] in (302, 403)
        assert api(port, TOKEN, "/code/")[0] == 200
    finally:
        assert containers.remove_all() == []
