"""What an image says of itself: one version (setup.cfg) in the Dockerfiles, the CHANGELOG and the
OCI labels make image sets, with the commit and the build's time; and a LICENSE that says what the
labels and setup.cfg say. build-image.sh runs against a stand-in docker that notes each call."""

from __future__ import annotations

import configparser
import datetime
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def version() -> str:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["metadata"]["version"]


def test_one_version_in_setup_cfg_the_dockerfiles_and_the_changelog():
    assert re.fullmatch(r"\d+\.\d+\.\d+", version())
    for name in ("Dockerfile.cpu", "Dockerfile.gpu"):
        assert f"ARG VERSION={version()}\n" in (ROOT / name).read_text(), name
    assert re.search(rf"^## {re.escape(version())}\b", (ROOT / "CHANGELOG.md").read_text(), re.M)


def test_the_license_is_the_one_the_labels_and_setup_cfg_name():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["license"] == "MIT"
    for name in ("Dockerfile.cpu", "Dockerfile.gpu"):
        assert 'org.opencontainers.image.licenses="MIT"' in (ROOT / name).read_text()


def test_make_image_labels_the_version_the_commit_and_the_time(tmp_path):
    stub = tmp_path / "bin"
    stub.mkdir()
    calls = tmp_path / "calls"
    # The base is "here" (amd64); no buildx (the classic builder); the build succeeds; a size for the last line.
    (stub / "docker").write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\ncase "$1" in buildx) exit 1 ;; image) case "$*" in *Architecture*)'
        " echo amd64 ;; *) echo 1000000000 ;; esac ;; esac\nexit 0\n"
    )
    (stub / "docker").chmod(0o755)
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    done = subprocess.run(
        [str(ROOT / "scripts/build-image.sh"), "Dockerfile.cpu", "deepdocker:test", "base:here"],
        cwd=ROOT, env={"PATH": f"{stub}:/usr/bin:/bin", "HOME": str(tmp_path), "PLATFORM": "linux/amd64"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    build = next(line for line in calls.read_text().splitlines() if line.startswith("build "))
    args = dict(re.findall(r"--build-arg (\w+)=(\S*)", build))
    assert args["VERSION"] == version()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert re.fullmatch(rf"{head}(-dirty)?", args["REVISION"]), args["REVISION"]
    created = datetime.datetime.strptime(args["CREATED"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert before <= created <= datetime.datetime.now(datetime.timezone.utc)
    assert args["SOURCE"] == "" or re.match(r"(https://|git@|ssh://)", args["SOURCE"])
