"""What the image's frameworks need of the CPU they run on.

TensorFlow's x86-64 wheels are built for AVX: on a CPU without it, `import tensorflow` ends the
process (an illegal instruction), so a notebook kernel dies with no word why. That CPU is most
often an amd64 image emulated on an arm64 machine (Docker Desktop on Apple silicon, whose
emulation has no AVX). Said once at start and in `deepdocker-health`, not found by a dead kernel.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
from collections.abc import Callable

from .accounts.nss import as_notebook_user
from .core.model import Settings

# One framework name per line, written by the image's build (scripts/install-frameworks.sh).
FRAMEWORKS_FILE = "/opt/deepdocker/frameworks"
CPUINFO = "/proc/cpuinfo"
# The frameworks' Python (the notebook user's environment), and what numpy's own CPUID check found.
USER_PYTHON = "/opt/venv/bin/python3"
CPUID = "from numpy._core._multiarray_umath import __cpu_features__ as f; print(int(f['AVX']))"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def installed(text: str | None) -> set[str]:
    return {line.strip() for line in (text or "").splitlines() if line.strip()}


def avx_by_cpuid(command: list[str], **run: object) -> bool | None:
    """Whether the CPU this Python runs on has AVX, by numpy's own CPUID check (None: unknown)."""
    try:
        done = subprocess.run([*command, "-I", "-c", CPUID], capture_output=True, text=True, timeout=60, **run)  # type: ignore[call-overload]
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode == -signal.SIGILL:
        return False  # this CPU lacks what numpy itself is built for: TensorFlow, which imports it, too
    return {"1": True, "0": False}.get(done.stdout.strip())


def cpu_note(machine: str, cpuinfo: str | None, frameworks: set[str], ask: Callable[[], bool | None]) -> str | None:
    """The one line to say where TensorFlow cannot run here, or None. `cpuinfo` as /proc/cpuinfo
    reads (None: unreadable, nothing said). Its x86 `flags` line is the CPU's own word; an x86-64
    process whose cpuinfo has none (an arm64 host's `Features`) is emulated, and the emulator is
    asked by running CPUID under it (`ask`): Docker Desktop's QEMU has no AVX, Rosetta may."""
    if "tensorflow" not in frameworks or machine not in ("x86_64", "amd64") or cpuinfo is None:
        return None
    flags = next((line.partition(":")[2].split() for line in cpuinfo.splitlines() if line.startswith("flags")), None)
    if flags is not None and "avx" in flags:
        return None
    if flags is None and ask() is not False:
        return None
    where = "an x86-64 CPU without AVX" if flags is not None else "an emulated x86-64 CPU without AVX"
    return (
        f"TensorFlow cannot run here: it needs AVX, and this is {where}, so `import tensorflow` ends the "
        "kernel; the other frameworks work"
        + ("" if flags is not None else "; run the arm64 image instead, natively (make image builds it there)")
    )


def note(settings: Settings) -> str | None:
    """The line for this container (in the image only: where its build wrote the frameworks)."""
    if not os.path.exists(FRAMEWORKS_FILE):
        return None
    # As the notebook user: root never runs the user's environment.
    ask = lambda: avx_by_cpuid([USER_PYTHON], **as_notebook_user(settings))  # noqa: E731
    return cpu_note(platform.machine(), _read(CPUINFO), installed(_read(FRAMEWORKS_FILE)), ask)
