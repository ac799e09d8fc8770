"""The size gate on the images this run built (scripts/size_gate.py, scripts/size-budgets.json)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.container

GATE = Path(__file__).resolve().parents[2] / "scripts" / "size_gate.py"


def gate(image: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GATE), image], capture_output=True, text=True, timeout=120)


def test_the_cpu_image_keeps_to_its_size_budget(image):
    done = gate(image)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"size gate: {image}: ") and "every group within its budget" in done.stdout


def test_the_gpu_image_keeps_to_its_size_budget(gpu_image):
    done = gate(gpu_image)
    assert done.returncode == 0, done.stderr
