"""deepdocker-health --gpu over NVML answers shaped after real machines (tests/unit/nvml/*.json),
replayed by a stand-in for nvidia-ml-py; the frameworks' answers are stand-ins too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from healthchecks import cli, gpu

MACHINES = Path(__file__).with_name("nvml")


class NVMLError(Exception):
    pass


def error(kind: str) -> NVMLError:
    return type(f"NVMLError_{kind}", (NVMLError,), {})(kind)


class RecordedNVML:
    """nvidia-ml-py's functions, answering from one machine's record."""

    NVMLError = NVMLError

    def __init__(self, record: dict, pid: int = 0):
        self.r = json.loads(json.dumps(record).replace('"KERNEL"', str(pid)))
        self.calls: list[str] = []

    def nvmlInit(self):
        if "init_error" in self.r:
            raise error(self.r["init_error"])

    def nvmlShutdown(self):
        self.calls.append("shutdown")

    def nvmlSystemGetDriverVersion(self):
        return self.r["driver"]

    def nvmlSystemGetCudaDriverVersion_v2(self):
        return self.r["cuda"]

    def nvmlDeviceGetCount(self):
        return len(self.r["devices"])

    def nvmlDeviceGetHandleByIndex(self, i):
        return self.r["devices"][i]

    def nvmlDeviceGetName(self, h):
        return h["name"].encode()  # older nvidia-ml-py returns bytes

    def nvmlDeviceGetUUID(self, h):
        return h["uuid"]

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(**h["memory"], free=h["memory"]["total"] - h["memory"]["used"])

    def nvmlDeviceGetUtilizationRates(self, h):
        if h["utilization"] == "NotSupported":
            raise error("NotSupported")
        return SimpleNamespace(**h["utilization"])

    def nvmlDeviceGetMigMode(self, h):
        if h.get("mig") is None:
            raise error("NotSupported")
        return [1, 1]

    def nvmlDeviceGetMaxMigDeviceCount(self, h):
        return len(h["mig"])

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h, j):
        if h["mig"][j] == "empty":
            raise error("NotFound")
        return h["mig"][j]

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        if h["processes"] == "NotSupported":
            raise error("NotSupported")
        return [SimpleNamespace(pid=p["pid"], usedGpuMemory=p["used"]) for p in h["processes"]]


def machine(name: str, pid: int = 0) -> RecordedNVML:
    return RecordedNVML(json.loads((MACHINES / f"{name}.json").read_text()), pid)


TORCH_CU13 = {"installed": True, "version": "2.13.0", "cuda": "13.0", "devices": ["NVIDIA A100 80GB PCIe"]}
TF_CU12 = {"installed": True, "version": "2.20.0", "cuda": "12.5.1", "devices": ["/physical_device:GPU:0"]}
ORT_CU12 = {"installed": True, "version": "1.23.2", "cuda": "12.2", "devices": ["CUDAExecutionProvider"]}
ALL_SEE = {"torch": TORCH_CU13, "tensorflow": TF_CU12, "onnxruntime": ORT_CU12}


def test_every_recorded_machine_reads_whole():
    for path in sorted(MACHINES.glob("*.json")):
        facts = gpu.nvml_facts(RecordedNVML(json.loads(path.read_text())))
        if "init_error" in path.read_text():
            assert facts == {"error": "NVMLError_LibraryNotFound: LibraryNotFound"}
            continue
        assert facts["driver"] and facts["cuda"], path.name
        for d in facts["devices"]:
            assert d["name"].startswith(("NVIDIA", "Tesla")) and isinstance(d["name"], str)
            assert 0 <= d["memory"]["used"] <= d["memory"]["total"]


def test_a_mig_gpu_lists_its_slices_and_their_processes():
    facts = gpu.nvml_facts(machine("h100-mig", pid=4242))
    (d,) = facts["devices"]
    assert facts["cuda"] == "13.0" and d["utilization"] is None and d["processes"] == []
    assert [m["name"] for m in d["mig"]] == ["NVIDIA H100 80GB HBM3 MIG 3g.40gb"] * 2  # the empty slot skipped
    assert d["mig"][0]["processes"] == [{"pid": 4242, "used": 3019898880}]
    out = gpu.text({"gpu": True, "nvml": facts, "frameworks": {}, "problems": []}, {})
    assert "MIG NVIDIA H100 80GB HBM3 MIG 3g.40gb: 2976 MiB of 40608 MiB used" in out
    assert "pid 4242" in out


def test_gpu_memory_is_given_to_the_service_whose_process_tree_holds_it():
    """A kernel under Jupyter holds GPU memory: the health view gives it to `jupyter`."""
    child = "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"
    service = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time; {child}; time.sleep(60)"])
    try:
        kernel = None
        deadline = time.monotonic() + 10
        while kernel is None and time.monotonic() < deadline:
            kids = Path(f"/proc/{service.pid}/task/{service.pid}/children").read_text().split()
            kernel = int(kids[0]) if kids else None
            time.sleep(0.02)
        assert kernel
        nvml = machine("a100-80gb", pid=kernel)
        used = gpu.service_gpu_memory(nvml, {"jupyter": service.pid, "tensorboard": 0})
        assert used == {"jupyter": 9663676416}
        facts = gpu.nvml_facts(machine("a100-80gb", pid=kernel))
        out = gpu.text({"gpu": True, "nvml": facts, "frameworks": ALL_SEE, "problems": []}, {"jupyter": service.pid})
        assert f"pid {kernel} python" in out and "[jupyter]" in out and "9216 MiB" in out
    finally:
        subprocess.run(["pkill", "-P", str(service.pid)], check=False)
        service.kill()
        service.wait()


def test_a_pid_from_another_namespace_is_said_to_be_one():
    facts = gpu.nvml_facts(machine("a100-80gb", pid=2**22 + 7))  # above pid_max's default: no such process here
    out = gpu.text({"gpu": True, "nvml": facts, "frameworks": {}, "problems": []}, {})
    assert "not in this PID namespace" in out


def test_all_well_says_so():
    facts = gpu.nvml_facts(machine("a100-80gb"))
    assert gpu.problems(facts, ALL_SEE, {}) == []
    text = gpu.text({"gpu": True, "nvml": facts, "frameworks": ALL_SEE, "problems": []}, {})
    assert text.splitlines()[0] == "driver 580.95.05 (CUDA up to 13.0)"
    assert "GPU 0: NVIDIA A100 80GB PCIe, 9728 MiB of 81920 MiB used, 37% busy" in text
    assert "torch 2.13.0 (CUDA 13.0): NVIDIA A100 80GB PCIe" in text
    assert text.endswith("no problem found")


def test_a_driver_older_than_a_frameworks_cuda_is_named_with_the_fix():
    facts = gpu.nvml_facts(machine("t4-old-driver"))
    found = gpu.problems(facts, {"torch": {**TORCH_CU13, "devices": []}, "tensorflow": TF_CU12}, {})
    assert found == [
        "torch 2.13.0 is built for CUDA 13.0, but this driver (535.183.01) runs CUDA up to 12.2: upgrade the "
        "host's NVIDIA driver to 580 or newer (or install a torch built for CUDA 12)."
    ]


def test_cpu_only_builds_are_named_with_the_package_to_install():
    facts = gpu.nvml_facts(machine("rtx4090x2"))
    cpu = {
        "torch": {"installed": True, "version": "2.13.0+cpu", "cuda": None, "devices": []},
        "tensorflow": {"installed": True, "version": "2.20.0", "cuda": None, "devices": []},
        "onnxruntime": {"installed": True, "version": "1.23.2", "cuda": None, "devices": []},
    }
    found = gpu.problems(facts, cpu, {})
    assert found[0] == (
        "torch 2.13.0+cpu is a CPU-only build: it cannot use the GPU. "
        "Fix: pip install torch==2.13.0 from PyPI (its Linux wheel is the CUDA build)."
    )
    assert "tensorflow[and-cuda]==2.20.0" in found[1] and "onnxruntime-gpu==1.23.2" in found[2]


@pytest.mark.parametrize(
    "value, says",
    [
        ("", "CUDA_VISIBLE_DEVICES='' hides every GPU from the frameworks: unset it."),
        ("-1", "CUDA_VISIBLE_DEVICES='-1' hides every GPU from the frameworks: unset it."),
        ("1", "CUDA_VISIBLE_DEVICES='1' shows the frameworks 1 of the 2 GPUs: unset it to use them all."),
    ],
)
def test_cuda_visible_devices_hiding_gpus(value, says):
    facts = gpu.nvml_facts(machine("rtx4090x2"))
    fits = {**ALL_SEE, "torch": {**TORCH_CU13, "version": "2.9.1", "cuda": "12.8"}}  # this driver runs CUDA 12.8
    hidden = {n: {**f, "devices": []} for n, f in fits.items()} if value in ("", "-1") else fits
    found = gpu.problems(facts, hidden, {"CUDA_VISIBLE_DEVICES": value})
    assert found == [says]  # and no "sees no GPU" for each framework on top


def test_a_framework_that_sees_nothing_or_hangs_is_reported():
    facts = gpu.nvml_facts(machine("a100-80gb"))
    found = gpu.problems(
        facts,
        {
            "torch": {**TORCH_CU13, "devices": []},
            "tensorflow": {"installed": True, "error": "did not answer within 60 s"},
        },
        {},
    )
    assert found[0].startswith("torch 2.13.0 (CUDA 13.0) sees no GPU though NVML lists 1")
    assert found[1] == "tensorflow could not be asked: it did not answer within 60 s."


@pytest.mark.parametrize(
    "record, env, container, says",
    [
        ("no-driver", {"NVIDIA_VISIBLE_DEVICES": "all"}, True,
         "none was passed into this container: start it with `docker run --gpus all`"),
        ("no-driver", {"NVIDIA_VISIBLE_DEVICES": "void"}, True,
         "NVIDIA_VISIBLE_DEVICES='void' asks the NVIDIA runtime for no GPU"),
        ("no-driver", {}, False, "no NVIDIA driver answers on this machine"),
        ("no-device", {}, False, "the NVIDIA driver is loaded but lists no GPU"),
    ],
)  # fmt: skip
def test_no_gpu_is_one_line_with_its_reason(record, env, container, says):
    facts = gpu.nvml_facts(machine(record))
    reason = gpu.no_gpu_reason(facts, env, container)
    assert reason.startswith(says)
    line = gpu.text(
        {"gpu": False, "reason": reason, "nvml": facts, "frameworks": {"torch": TORCH_CU13 | {"devices": []}}}, {}
    )
    assert "\n" not in line and line.startswith(f"no GPU: {says}") and "torch 2.13.0 (CUDA 13.0): no GPU" in line


def test_frameworks_are_asked_apart_with_a_time_limit(tmp_path):
    """A framework that hangs or crashes cannot take the report with it; a missing one is just missing."""
    python = tmp_path / "python3"
    python.write_text(
        "#!/bin/sh\n"
        'case "$2" in\n'
        '  *"import torch"*) sleep 30 ;;\n'
        '  *"import tensorflow"*) kill -SEGV $$ ;;\n'
        "  *) echo '{\"installed\": false}' ;;\n"
        "esac\n"
    )
    python.chmod(0o755)
    started = time.monotonic()
    answers = gpu.ask_frameworks(str(python), timeout=1.0)
    assert time.monotonic() - started < 5  # at once, not one after the other
    assert answers["torch"] == {"installed": True, "error": "did not answer within 1 s"}
    assert answers["tensorflow"]["error"].startswith("exited with status -11")
    assert answers["onnxruntime"] == {"installed": False}


def test_deepdocker_health_gpu_here_says_no_gpu_and_exits_0(tmp_path):
    """On this machine (no GPU) the real command, real nvidia-ml-py: one line, status 0."""
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "DEEPDOCKER_RUN_DIR": str(tmp_path / "run")}
    health = str(Path(sys.executable).with_name("deepdocker-health"))
    if os.path.exists(cli.GPU_DEVICE):
        pytest.skip("this machine has an NVIDIA GPU: tests/gpu/check_gpu.py checks it")
    done = subprocess.run([health, "--gpu"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.count("\n") == 1 and done.stdout.startswith("no GPU: ")
    as_json = subprocess.run([health, "--gpu", "--json"], env=env, capture_output=True, text=True, timeout=60)
    report = json.loads(as_json.stdout)
    assert report["gpu"] is False and "NVMLError" in report["nvml"]["error"]
    assert report["frameworks"] == {"torch": {"installed": False, "error": "no python3 on PATH"}} | {
        n: {"installed": False, "error": "no python3 on PATH"} for n in ("tensorflow", "onnxruntime")
    }
    bad = subprocess.run([health, "--gpu", "--wait", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--gpu takes no --wait" in bad.stderr


def test_the_health_view_shows_gpu_memory_per_service_only_where_a_gpu_is(tmp_path, monkeypatch):
    (tmp_path / "services.tsv").write_text(
        "socket\t/x.sock\njupyter\thttp\t127.0.0.1\t8888\t/api\tnow\ntensorboard\thttp\t127.0.0.1\t6006\t/\tnow\n"
    )
    me = os.getpid()  # this process stands for Jupyter; its GPU memory is a kernel's, one level down
    states = [
        {"name": "jupyter", "state": "RUNNING", "pid": os.getppid(), "restarts": 0},
        {"name": "tensorboard", "state": "RUNNING", "pid": 999999, "restarts": 0},
    ]
    monkeypatch.setattr(cli.rpc, "call", lambda socket, method: states)
    monkeypatch.setattr(cli, "probe", lambda spec: (True, "probed"))
    monkeypatch.setattr(gpu, "load_nvml", lambda: machine("a100-80gb", pid=me))

    monkeypatch.setattr(cli, "GPU_DEVICE", str(tmp_path / "no-such-device"))
    plain = cli.check(str(tmp_path))
    cli.add_gpu_memory(plain)
    assert not any("gpu_memory" in s for s in plain["services"].values())
    assert "GPU MEM" not in cli.table(plain)

    monkeypatch.setattr(cli, "GPU_DEVICE", str(tmp_path / "services.tsv"))  # a file that exists
    assert not any("gpu_memory" in s for s in cli.check(str(tmp_path))["services"].values())  # the probe's view
    seen = cli.check(str(tmp_path))
    cli.add_gpu_memory(seen)
    assert seen["services"]["jupyter"]["gpu_memory"] == 9663676416
    assert seen["services"]["tensorboard"]["gpu_memory"] == 0
    table = cli.table(seen)
    assert table.splitlines()[0].split()[7:9] == ["GPU", "MEM"] and "9216 MiB" in table
