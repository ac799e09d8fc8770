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


BAD = [(f"PLATFORM={p}", f"PLATFORM={p} is not one this builds; accepted: linux/amd64 linux/arm64")
       for p in ("linux/s390x", "", "linux/amd64 linux/s390x", "amd64", "linux/arm64 linux/amd64")]  # fmt: skip
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


TAGS = [("linux/amd64", "deepdocker:cpu "), ("linux/arm64", "deepdocker:cpu-arm64 ")]


@pytest.mark.parametrize(("platform", "tag"), TAGS)
def test_each_accepted_platform_goes_on_to_the_build_of_its_tag(tmp_path, platform, tag):
    # `make -n` prints what it would run: the build script, reached past the platform check.
    done, calls = make(tmp_path, "-n", "image", f"PLATFORM={platform}", "FRAMEWORKS=onnx")
    assert done.returncode == 0, done
    assert f"scripts/build-image.sh Dockerfile.cpu {tag}" in done.stdout
    assert calls == []


def test_the_gpu_image_refuses_arm64_with_one_line(tmp_path):
    done, calls = make(tmp_path, "image-gpu", "PLATFORM=linux/arm64")
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == [
        "Makefile:"
        + done.stderr.split("Makefile:", 1)[1].split(":", 1)[0]
        + ": *** PLATFORM=linux/arm64: the GPU image is built for linux/amd64 alone; accepted: linux/amd64.  Stop."
    ]
    assert calls == []


@pytest.mark.parametrize("platform", ["linux/s390x", "arm64", "linux/", "linux/../amd64"])
def test_build_image_refuses_a_platform_it_has_no_file_for(tmp_path, platform):
    # The script alone (as compose-less users and CI call it): one line, exit 2, docker never called.
    stub = tmp_path / "bin"
    stub.mkdir()
    calls = tmp_path / "docker-calls"
    (stub / "docker").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit 1\n')
    (stub / "docker").chmod(0o755)
    done = subprocess.run([str(ROOT / "scripts" / "build-image.sh"), "Dockerfile.cpu", "t:x", "base"],
                          env={"PATH": f"{stub}:/usr/bin:/bin", "PLATFORM": platform},
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 2, done
    assert done.stderr.splitlines() == [
        f"build-image: PLATFORM={platform} is not one this builds; accepted: linux/amd64 linux/arm64 "
    ]
    assert not calls.exists()


@pytest.mark.parametrize("value", ["0", "1"])
def test_pip_lock_0_and_1_reach_the_build(tmp_path, value):
    done, calls = make(tmp_path, "-n", "image", f"PIP_LOCK={value}", "FRAMEWORKS=onnx")
    assert done.returncode == 0, done
    assert f'--build-arg "PIP_LOCK={value}"' in done.stdout
    assert calls == []


@pytest.mark.parametrize("registry", ["", "bad host:5000", "127.0.0.1:5000/", "http://127.0.0.1:5000", "Reg;rm -rf /"])
def test_release_refuses_a_registry_that_is_not_one(tmp_path, registry):
    done, calls = make(tmp_path, "release", f"REGISTRY={registry}")
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines()[0] == (
        f"release: REGISTRY='{registry}' is not a registry; accepted: host[:port][/path], e.g. 127.0.0.1:5000"
    )
    assert calls == []


def test_release_without_both_images_built_says_which_and_pushes_nothing(tmp_path):
    # The stand-in docker knows no image: the first platform's is named, with the command that builds it.
    done, calls = make(tmp_path, "release", "REGISTRY=127.0.0.1:5000")
    assert done.returncode == 2, done
    assert "release: deepdocker:cpu is not built (wanted: amd64, version " in done.stderr
    assert "make image PLATFORM=linux/amd64" in done.stderr
    assert all(c.startswith("image inspect") for c in calls), calls
