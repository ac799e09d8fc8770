"""Host mode on a machine with an NVIDIA GPU: `deepdocker-health --gpu` checked against the machine.

Run where a GPU is (no Docker needed), in the venv `make venv` makes plus a CUDA torch:
    .venv/bin/pip install torch && .venv/bin/python -m pytest tests/gpu -v -s
It compares the report with NVML read directly (driver, GPU count, each GPU's memory), makes a
64 MiB allocation with torch in this process and looks for it, under this pid, in the
per-process view, and expects every installed framework to be a CUDA build that sees the GPUs.
Elsewhere it skips, saying why: no machine CI runs on has a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from healthchecks import cli, gpu

pytestmark = pytest.mark.skipif(
    not os.path.exists(cli.GPU_DEVICE), reason=f"no NVIDIA GPU on this machine ({cli.GPU_DEVICE} is absent)"
)
HEALTH = str(Path(sys.executable).with_name("deepdocker-health"))


def test_the_report_matches_the_machine(tmp_path):
    import pynvml

    pynvml.nvmlInit()
    driver = pynvml.nvmlSystemGetDriverVersion()
    count = pynvml.nvmlDeviceGetCount()
    totals = [pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(i)).total for i in range(count)]
    pynvml.nvmlShutdown()

    torch = pytest.importorskip("torch", reason="the allocation check needs torch (pip install torch)")
    block = torch.empty(64 << 20, dtype=torch.uint8, device="cuda:0")
    torch.cuda.synchronize()

    # The frameworks are asked with the first python3 on PATH: this one.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env["DEEPDOCKER_RUN_DIR"] = str(tmp_path)
    done = subprocess.run([HEALTH, "--gpu", "--json"], env=env, capture_output=True, text=True, timeout=300)
    print(subprocess.run([HEALTH, "--gpu"], env=env, capture_output=True, text=True, timeout=300).stdout)
    report = json.loads(done.stdout)
    assert report["gpu"] is True
    nvml = report["nvml"]
    assert nvml["driver"] == (driver.decode() if isinstance(driver, bytes) else driver)
    assert [d["memory"]["total"] for d in nvml["devices"]] == totals
    mine = [p for d in nvml["devices"] for p in gpu.all_processes(d)]
    ours = [p for p in mine if p["pid"] == os.getpid()]
    assert ours and (ours[0]["used"] is None or ours[0]["used"] >= 64 << 20), mine
    assert report["frameworks"]["torch"]["cuda"] and len(report["frameworks"]["torch"]["devices"]) >= 1
    for name, f in report["frameworks"].items():
        if f.get("installed"):
            assert f.get("cuda") and f.get("devices"), (name, f)
    assert report["problems"] == [] and done.returncode == 0
    del block
