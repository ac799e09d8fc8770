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


if __name__ == "__main__":
    print(table(run(), f"deepdocker-health vs supervisorctl status, {CALLS} calls each"))
