"""`make image` and `make image-gpu` with a PLATFORM or PIP_LOCK they cannot build: one line naming the
accepted ones, exit 2, and nothing built or written (docker is a stand-in that notes each call)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make", path=os.defpath + ":/usr/bin:/bin")


def make(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    calls = tmp_path / "docker-calls"
    (stub / "docker").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit 1\n')
    (stub / "docker").chmod(0o755)
    env = {"PATH": f"{stub}:/usr/bin:/bin", "HOME": str(tmp_path)}
    assert MAKE, "make is not installed"
    done = subprocess.run([MAKE, "-C", str(ROOT), "--no-print-directory", *args],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    return done, calls.read_text().splitlines() if calls.exists() else []


BAD = [(f"PLATFORM={p}", f"PLATFORM={p} is not one this builds; accepted: linux/amd64")
       for p in ("linux/s390x", "linux/arm64", "", "linux/amd64 linux/s390x", "amd64")]  # fmt: skip
BAD += [(f"PIP_LOCK={v}", f"PIP_LOCK={v} is not one the build takes; accepted: 1 (install from scripts/locks")
        for v in ("yes", "2", "1 0", "true")]  # fmt: skip


@pytest.mark.parametrize("target", ["image", "image-gpu", "run"])
@pytest.mark.parametrize(("assignment", "said"), BAD, ids=[a for a, _ in BAD])
def test_a_value_it_cannot_build_stops_before_anything(tmp_path, target, assignment, said):
    certs = ROOT / "certs"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in certs.iterdir())
    done, calls = make(tmp_path, target, assignment)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert said in lines[0]
    assert done.stdout == ""
    assert calls == []
    assert sorted((p.name, p.stat().st_mtime_ns) for p in certs.iterdir()) == before


def test_the_accepted_platform_goes_on_to_the_build(tmp_path):
    # `make -n` prints what it would run: the build script, reached past the platform check.
    done, calls = make(tmp_path, "-n", "image", "PLATFORM=linux/amd64", "FRAMEWORKS=onnx")
    assert done.returncode == 0, done
    assert "scripts/build-image.sh Dockerfile.cpu deepdocker:cpu" in done.stdout
    assert calls == []


@pytest.mark.parametrize("value", ["0", "1"])
def test_pip_lock_0_and_1_reach_the_build(tmp_path, value):
    done, calls = make(tmp_path, "-n", "image", f"PIP_LOCK={value}", "FRAMEWORKS=onnx")
    assert done.returncode == 0, done
    assert f'--build-arg "PIP_LOCK={value}"' in done.stdout
    assert calls == []
