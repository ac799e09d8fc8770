"""deepdocker-health's cost per call beside `supervisorctl status`, on one live stack.

Both run alternately against the same supervisord; each call's CPU time and peak RSS
come from wait4(), so the figures are the probe's own, not the machine's.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import Stack, measure_call, median, table

CALLS = 30


def run(services: str = "jupyter,tensorboard,sshd") -> list[tuple[str, float, float, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), services)
        try:
            stack.wait_healthy()
            bin_dir = Path(sys.executable).parent
            ours = [str(bin_dir / "deepdocker-health")]
            base = [str(bin_dir / "supervisorctl"), "-c", str(stack.run_dir / "supervisord.conf"), "status"]
            samples: dict[str, list[tuple[float, float, int]]] = {"ours": [], "base": []}
            for _ in range(CALLS):
                samples["ours"].append(measure_call(ours, stack.env))
                samples["base"].append(measure_call(base, stack.env))
        finally:
            stack.stop()
    assert all(s[2] == 0 for s in samples["ours"]), "deepdocker-health failed during the benchmark"
    assert all(s[2] == 0 for s in samples["base"]), "supervisorctl status failed during the benchmark"
    return [
        ("health probe CPU per call (median)", median([s[0] for s in samples["ours"]]),
         median([s[0] for s in samples["base"]]), "ms"),
        ("health probe peak RSS (max)", max(s[1] for s in samples["ours"]),
         max(s[1] for s in samples["base"]), "Mi"),
    ]  # fmt: skip


# What the GPU column adds where a GPU is: nvidia-ml-py imported, NVML asked. Without a GPU the
# column costs one stat() of /dev/nvidiactl; NVML's own calls need a GPU to be measured.
NVML_IMPORT = "import pynvml\ntry:\n    pynvml.nvmlInit()\nexcept pynvml.NVMLError:\n    pass"


def gpu_rows(services: str = "jupyter,tensorboard") -> list[tuple[str, float, float, str]]:
    """The person's view (--json, GPU column where a GPU is) beside the probe; NVML's import beside none."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), services)
        try:
            stack.wait_healthy()
            health = str(Path(sys.executable).parent / "deepdocker-health")
            py = [sys.executable, "-I", "-c"]
            samples: dict[str, list[tuple[float, float, int]]] = {"json": [], "probe": [], "nvml": [], "bare": []}
            for _ in range(CALLS):
                samples["json"].append(measure_call([health, "--json"], stack.env))
                samples["probe"].append(measure_call([health], stack.env))
                samples["nvml"].append(measure_call([*py, NVML_IMPORT], stack.env))
                samples["bare"].append(measure_call([*py, "pass"], stack.env))
        finally:
            stack.stop()
    cpu = {k: median([s[0] for s in v]) for k, v in samples.items()}
    rss = {k: max(s[1] for s in v) for k, v in samples.items()}
    return [
        ("health --json CPU (no GPU here)", cpu["json"], cpu["probe"], "ms"),
        ("health --json peak RSS", rss["json"], rss["probe"], "Mi"),
        ("import nvidia-ml-py + nvmlInit CPU", cpu["nvml"], cpu["bare"], "ms"),
        ("import nvidia-ml-py peak RSS", rss["nvml"], rss["bare"], "Mi"),
    ]


if __name__ == "__main__":
    print(table(run(), f"deepdocker-health vs supervisorctl status, {CALLS} calls each"))
    print(table(gpu_rows(), f"GPU column: baseline = the probe / a bare interpreter, {CALLS} calls each"))
