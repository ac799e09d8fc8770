"""deepdocker-health --gpu [--json]: what this container (or machine) sees of its GPUs, and what to do.

1. NVML, the driver's own library (through nvidia-ml-py, not by reading nvidia-smi's text): the
   driver, the newest CUDA it supports, each GPU and MIG slice with its memory and utilisation,
   and the processes on it, each with the deepdocker service it belongs to.
2. Each framework, asked in a subprocess of the user's Python (the first `python3` on PATH) with a
   time limit, all at once: torch, TensorFlow, ONNX Runtime. A framework that hangs or crashes is
   reported as such and cannot take the report with it.
3. One plain sentence, with its fix, for each problem recognised: no GPU passed in, a driver older
   than a framework's CUDA, a CPU-only build, CUDA_VISIBLE_DEVICES hiding GPUs, a framework that
   sees none.

No GPU: one line, exit 0. Otherwise exit 0 when no problem was found, 1 when one was.
Not part of the HEALTHCHECK probe: a framework's import takes seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# A framework that has not answered by then is reported as hanging.
FRAMEWORK_TIMEOUT = 60.0
# The oldest Linux driver each CUDA major version runs on (NVIDIA's CUDA toolkit release notes;
# within a major version, later minors run on it through minor-version compatibility).
MIN_DRIVER = {13: "580", 12: "525", 11: "450"}
# Device nodes the NVIDIA container runtime passes in (and a host with the driver has).
DEVICE_NODE = "/dev/nvidiactl"

# Each prints one JSON line; {"installed": false} when the module is not there.
PROBES = {
    "torch": """
import json
try:
    import torch
except ModuleNotFoundError:
    print(json.dumps({"installed": False})); raise SystemExit
seen = torch.cuda.is_available()
names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if seen else []
print(json.dumps({"installed": True, "version": torch.__version__, "cuda": torch.version.cuda, "devices": names}))
""",
    "tensorflow": """
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
try:
    import tensorflow as tf
except ModuleNotFoundError:
    print(json.dumps({"installed": False})); raise SystemExit
b = tf.sysconfig.get_build_info()
print(json.dumps({"installed": True, "version": tf.__version__,
                  "cuda": b.get("cuda_version") if b.get("is_cuda_build") else None,
                  "devices": [d.name for d in tf.config.list_physical_devices("GPU")]}))
""",
    "onnxruntime": """
import json
try:
    import onnxruntime as ort
except ModuleNotFoundError:
    print(json.dumps({"installed": False})); raise SystemExit
try:
    from onnxruntime.capi import build_and_package_info as b
    cuda = getattr(b, "cuda_version", None) or None
except ImportError:
    cuda = None
providers = ort.get_available_providers()
devices = []
try:
    from onnx import TensorProto, helper
except ModuleNotFoundError:
    helper = None
if "CUDAExecutionProvider" in providers and helper:
    # Built for CUDA is not the same as running on it: a session on a one-node model says which.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    # An IR version and opset every ONNX Runtime of the last years reads, whatever onnx would default to.
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 13)])
    ort.set_default_logger_severity(4)
    s = ort.InferenceSession(model.SerializeToString(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    devices = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in s.get_providers() else []
print(json.dumps({"installed": True, "version": ort.__version__, "cuda": cuda or ("?" if
                  "CUDAExecutionProvider" in providers else None), "devices": devices}))
""",
}
CUDA_FIX = {
    "torch": "pip install torch=={v} from PyPI (its Linux wheel is the CUDA build)",
    "tensorflow": "pip install 'tensorflow[and-cuda]=={v}' (not tensorflow-cpu)",
    "onnxruntime": "pip uninstall onnxruntime && pip install onnxruntime-gpu=={v}",
}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cuda_version(number: int) -> str:
    return f"{number // 1000}.{number % 1000 // 10}"


def _memory(nvml: Any, handle: Any) -> dict:
    m = nvml.nvmlDeviceGetMemoryInfo(handle)
    return {"used": int(m.used), "total": int(m.total)}


def _processes(nvml: Any, handle: Any) -> list[dict]:
    try:
        found = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
    except nvml.NVMLError:
        return []
    return [{"pid": int(p.pid), "used": int(p.usedGpuMemory) if p.usedGpuMemory is not None else None} for p in found]


def _device(nvml: Any, handle: Any, index: int) -> dict:
    d: dict = {
        "index": index,
        "name": _text(nvml.nvmlDeviceGetName(handle)),
        "uuid": _text(nvml.nvmlDeviceGetUUID(handle)),
        "memory": _memory(nvml, handle),
        "processes": _processes(nvml, handle),
    }
    try:
        u = nvml.nvmlDeviceGetUtilizationRates(handle)
        d["utilization"] = {"gpu": int(u.gpu), "memory": int(u.memory)}
    except nvml.NVMLError:
        d["utilization"] = None  # a GPU split into MIG slices reports none
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except nvml.NVMLError:
        current = 0
    if current:
        d["mig"] = []
        for j in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, j)
            except nvml.NVMLError:
                continue  # an unused slot
            d["mig"].append(
                {
                    "name": _text(nvml.nvmlDeviceGetName(mig)),
                    "uuid": _text(nvml.nvmlDeviceGetUUID(mig)),
                    "memory": _memory(nvml, mig),
                    "processes": _processes(nvml, mig),
                }
            )
    return d


def nvml_facts(nvml: Any) -> dict:
    """What NVML says: {"driver", "cuda", "devices"}, or {"error"} when it cannot be asked."""
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as e:
        return {"error": f"{type(e).__name__}: {e}"}
    try:
        facts = {
            "driver": _text(nvml.nvmlSystemGetDriverVersion()),
            "cuda": _cuda_version(nvml.nvmlSystemGetCudaDriverVersion_v2()),
            "devices": [_device(nvml, nvml.nvmlDeviceGetHandleByIndex(i), i) for i in range(nvml.nvmlDeviceGetCount())],
        }
    except nvml.NVMLError as e:
        facts = {"error": f"{type(e).__name__}: {e}"}
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass
    return facts


def load_nvml() -> Any | None:
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        return None
    return pynvml


def ask_framework(
    name: str, python: str | None, timeout: float = FRAMEWORK_TIMEOUT, run_as: dict | None = None
) -> dict:
    """`run_as`: subprocess arguments that run the user's Python as the notebook user (as_user)."""
    if not python:
        return {"installed": False, "error": "no python3 on PATH"}
    try:
        done = subprocess.run(
            [python, "-c", PROBES[name]],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **(run_as or {}),
        )
    except subprocess.TimeoutExpired:
        return {"installed": True, "error": f"did not answer within {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"installed": True, "error": f"exited with status {done.returncode}: {last[:300]}"}
    try:
        return dict(json.loads(lines[-1]))
    except ValueError:
        return {"installed": True, "error": f"unreadable answer: {lines[-1][:200]}"}


def ask_frameworks(
    python: str | None, timeout: float = FRAMEWORK_TIMEOUT, run_as: dict | None = None
) -> dict[str, dict]:
    with ThreadPoolExecutor(len(PROBES)) as pool:
        futures = {name: pool.submit(ask_framework, name, python, timeout, run_as) for name in PROBES}
        return {name: f.result() for name, f in futures.items()}


def _major(version: str) -> int | None:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return None


def in_container() -> bool:
    return os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")


def no_gpu_reason(nvml: dict, env: dict[str, str], container: bool) -> str:
    visible = env.get("NVIDIA_VISIBLE_DEVICES")
    if container and visible is not None and visible.strip().lower() in ("", "void", "none"):
        return (
            f"NVIDIA_VISIBLE_DEVICES={visible!r} asks the NVIDIA runtime for no GPU: "
            "set it to all (or GPU indexes or UUIDs) and start the container with --gpus all"
        )
    if container:
        return (
            "none was passed into this container: start it with `docker run --gpus all` "
            "(Compose: compose.gpu.yaml), with the NVIDIA Container Toolkit on the host"
        )
    if nvml.get("devices") == []:
        return "the NVIDIA driver is loaded but lists no GPU"
    return "no NVIDIA driver answers on this machine (install the driver, or run where a GPU is)"


def problems(nvml: dict, frameworks: dict[str, dict], env: dict[str, str]) -> list[str]:
    """Plain sentences, each with its fix, for what stands between the frameworks and the GPUs."""
    found = []
    count = len(nvml.get("devices", []))
    hidden = env.get("CUDA_VISIBLE_DEVICES")
    hides_all = False
    if hidden is not None:
        value = hidden.strip()
        shown = [] if value in ("-1", "NoDevFiles") else [v for v in value.split(",") if v.strip()]
        if not shown:
            hides_all = True
            found.append(f"CUDA_VISIBLE_DEVICES={hidden!r} hides every GPU from the frameworks: unset it.")
        elif len(shown) < count:
            found.append(
                f"CUDA_VISIBLE_DEVICES={hidden!r} shows the frameworks {len(shown)} of the {count} GPUs: "
                "unset it to use them all."
            )
    driver_major = _major(nvml.get("cuda", ""))
    for name, f in frameworks.items():
        if not f.get("installed"):
            continue
        label = f"{name} {f.get('version', '')}".strip()
        if f.get("error"):
            found.append(f"{label} could not be asked: it {f['error']}.")
            continue
        cuda = f.get("cuda")
        if not cuda:
            fix = CUDA_FIX[name].format(v=str(f.get("version", "")).split("+")[0])
            found.append(f"{label} is a CPU-only build: it cannot use the GPU. Fix: {fix}.")
            continue
        need = _major(cuda)
        if need and driver_major is not None and need > driver_major:
            found.append(
                f"{label} is built for CUDA {cuda}, but this driver ({nvml.get('driver')}) runs CUDA up to "
                f"{nvml.get('cuda')}: upgrade the host's NVIDIA driver to {MIN_DRIVER.get(need, 'a newer one')} "
                f"or newer (or install a {name} built for CUDA {driver_major})."
            )
        elif not f.get("devices") and not hides_all:
            found.append(
                f"{label} (CUDA {cuda}) sees no GPU though NVML lists {count}: "
                f"run `python -c 'import {name}'` in a terminal and read its warnings."
            )
    return found


def report(
    nvml_module: Any, env: dict[str, str], python: str | None, container: bool, run_as: dict | None = None
) -> dict:
    nvml = nvml_facts(nvml_module) if nvml_module is not None else {"error": "nvidia-ml-py is not installed"}
    frameworks = ask_frameworks(python, run_as=run_as)
    gpu = bool(nvml.get("devices"))
    result: dict = {"gpu": gpu, "nvml": nvml, "frameworks": frameworks}
    if gpu:
        result["problems"] = problems(nvml, frameworks, env)
    else:
        result["reason"] = no_gpu_reason(nvml, env, container)
        result["problems"] = []
    return result


def _mib(n: int | None) -> str:
    return "?" if n is None else f"{n / 1048576:.0f} MiB"


def all_processes(device: dict) -> list[dict]:
    """A GPU's processes, its MIG slices' included."""
    return device["processes"] + [p for m in device.get("mig", []) for p in m["processes"]]


def _framework_line(name: str, f: dict) -> str:
    if not f.get("installed"):
        return f"{name}: not installed"
    if f.get("error"):
        return f"{name}: {f['error']}"
    build = f"CUDA {f['cuda']}" if f.get("cuda") else "CPU-only build"
    seen = ", ".join(f.get("devices") or []) or "no GPU"
    return f"{name} {f.get('version')} ({build}): {seen}"


def owners(pids: list[int], services: dict[str, int]) -> dict[int, str]:
    """pid -> the deepdocker service whose process tree holds it (by walking /proc's parent links)."""
    by_pid = {pid: name for name, pid in services.items() if pid}
    found = {}
    for pid in pids:
        current, seen = pid, 0
        while current > 1 and seen < 64:
            if current in by_pid:
                found[pid] = by_pid[current]
                break
            try:
                with open(f"/proc/{current}/stat") as f:
                    current = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                break
            seen += 1
    return found


def text(r: dict, services: dict[str, int]) -> str:
    frameworks = r["frameworks"]
    if not r["gpu"]:
        seen = "; ".join(_framework_line(n, f) for n, f in frameworks.items() if f.get("installed"))
        return f"no GPU: {r['reason']}" + (f" (frameworks: {seen})" if seen else "")
    nvml = r["nvml"]
    out = [f"driver {nvml['driver']} (CUDA up to {nvml['cuda']})"]
    pids = [p["pid"] for d in nvml["devices"] for p in all_processes(d)]
    who = owners(pids, services)
    for d in nvml["devices"]:
        u = d["utilization"]
        util = f", {u['gpu']}% busy" if u else ""
        out.append(
            f"GPU {d['index']}: {d['name']}, {_mib(d['memory']['used'])} of {_mib(d['memory']['total'])} used{util}"
        )
        for m in d.get("mig", []):
            out.append(f"  MIG {m['name']}: {_mib(m['memory']['used'])} of {_mib(m['memory']['total'])} used")
            out += _process_lines(m["processes"], who, "    ")
        out += _process_lines(d["processes"], who, "  ")
    out += [_framework_line(n, f) for n, f in frameworks.items()]
    out += [f"problem: {p}" for p in r["problems"]]
    out.append("no problem found" if not r["problems"] else f"{len(r['problems'])} problem(s)")
    return "\n".join(out)


def _process_lines(processes: list[dict], who: dict[int, str], indent: str) -> list[str]:
    lines = []
    for p in processes:
        try:
            with open(f"/proc/{p['pid']}/comm") as f:
                comm = f.read().strip()
        except OSError:
            comm = "? (not in this PID namespace)"
        lines.append(
            f"{indent}pid {p['pid']} {comm}: {_mib(p['used'])}" + (f" [{who[p['pid']]}]" if p["pid"] in who else "")
        )
    return lines


# The image's notebook account (scripts/install-system.sh), for root with no start to read it from.
IMAGE_USER_FILE = "/usr/local/lib/deepdocker/image-user"


def as_user(user: tuple[str, int, int, str] | None, env: dict[str, str]) -> dict:
    """subprocess arguments for the frameworks' probes. Root never runs the user's Python (its
    .pth files, its `python3` on PATH) as root: as the start's notebook user, else the image's,
    else nobody; everyone else runs it as themselves."""
    if os.geteuid() != 0:
        return {}
    import pwd

    if user is None:
        try:
            with open(IMAGE_USER_FILE) as f:
                entry = pwd.getpwnam(f.read().strip())
            user = (entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
        except (OSError, KeyError):
            user = ("nobody", 65534, 65534, "/nonexistent")
    name, uid, gid, home = user
    if uid == 0:  # NB_USER=root: asked for knowingly
        return {}
    return {"user": uid, "group": gid, "extra_groups": [], "env": {**env, "HOME": home, "USER": name, "LOGNAME": name}}


def main(as_json: bool, services: dict[str, int], user: tuple[str, int, int, str] | None = None) -> int:
    env = dict(os.environ)
    run_as = as_user(user, env)
    r = report(load_nvml(), env, shutil.which("python3", path=env.get("PATH")), in_container(), run_as)
    if as_json:
        print(json.dumps(r, indent=1))
    else:
        print(text(r, services))
    sys.stdout.flush()
    return 1 if r["gpu"] and r["problems"] else 0


def service_gpu_memory(nvml_module: Any, services: dict[str, int]) -> dict[str, int]:
    """For the health view: GPU memory per deepdocker service (its process tree), in bytes."""
    facts = nvml_facts(nvml_module)
    used: dict[int, int] = {}
    for d in facts.get("devices", []):
        for p in all_processes(d):
            used[p["pid"]] = used.get(p["pid"], 0) + (p["used"] or 0)
    totals: dict[str, int] = {}
    for pid, name in owners(list(used), services).items():
        totals[name] = totals.get(name, 0) + used[pid]
    return totals
