"""deepdocker:gpu on this machine's CPU fallback (no GPU here): every framework of the CPU image in
its CUDA build, imported and run, and `deepdocker-health --gpu` saying plainly that there is no GPU."""

from __future__ import annotations

import json

import pytest

from tests.container.tracked import docker

pytestmark = pytest.mark.container

TOKEN = "gpu-image-test-token-0123456789"

FRAMEWORKS = """
import json, numpy as np
import torch, tensorflow as tf, keras, pytensor, pytensor.tensor as pt, onnx, onnxruntime as ort
b = tf.sysconfig.get_build_info()
# One step of each on the CPU, the fallback where no GPU is passed in.
x = pt.dvector("x")
print(json.dumps({
    "torch": [torch.__version__, torch.version.cuda, torch.cuda.is_available(), float(torch.ones(3).sum())],
    "tensorflow": [tf.__version__, b.get("cuda_version"), b.get("cudnn_version"),
                   len(tf.config.list_physical_devices("GPU")), float(tf.reduce_sum(tf.ones(3)))],
    "keras": [keras.__version__, keras.backend.backend()],
    "pytensor": float(pytensor.function([x], (x ** 2).sum())(np.arange(3.0))),
    "onnxruntime": [ort.__version__, ort.get_available_providers()],
}))
"""


def test_every_framework_in_its_cuda_build_and_no_gpu_said_plainly(containers, gpu_image):
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN}, image=gpu_image)
    c.wait_health("healthy")
    assert c.exec("cat", "/opt/deepdocker/frameworks").stdout.split() == [
        "torch", "tensorflow", "keras", "pytensor", "onnx"
    ]  # fmt: skip
    done = docker("exec", "-u", "jovyan", c.id, "python", "-c", FRAMEWORKS, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["torch"][1] == "13.0" and seen["torch"][2] is False and seen["torch"][3] == 3.0
    assert seen["tensorflow"][1].startswith("12.") and seen["tensorflow"][3] == 0 and seen["tensorflow"][4] == 3.0
    assert seen["keras"][1] == "tensorflow" and seen["pytensor"] == 5.0
    assert "CUDAExecutionProvider" in seen["onnxruntime"][1]

    # One line, status 0, the reason and its fix; every framework asked and seeing none.
    line = c.exec("deepdocker-health", "--gpu", timeout=300)
    assert line.returncode == 0, line.stderr
    assert line.stdout.count("\n") == 1, line.stdout
    assert line.stdout.startswith("no GPU: none was passed into this container: start it with `docker run --gpus all`")
    report = json.loads(c.exec("deepdocker-health", "--gpu", "--json", timeout=300).stdout)
    assert report["gpu"] is False and report["problems"] == []
    for name in ("torch", "tensorflow", "onnxruntime"):
        f = report["frameworks"][name]
        assert f["installed"] and f["cuda"] and f["devices"] == [] and "error" not in f, (name, f)
    # No device node here: the health view has no GPU column, not even for a person (--json).
    health = json.loads(c.exec("deepdocker-health", "--json").stdout)
    assert health["healthy"] and not any("gpu_memory" in s for s in health["services"].values())
