"""`docker compose up --build` alone, from a checkout made as Git for Windows makes one
(core.autocrlf=true, core.symlinks=false): the default image is built and starts behind its token.

A stranger's machine pulls the base image (ubuntu:24.04) and torch from PyTorch's index; this one
reaches neither, so the test gives the build what `make image` gives it here: this host's CA
bundle in certs/ (`make certs`: PyPI is reached through a TLS-intercepting proxy), and an override
file with the local Debian base and torch from WHEELHOUSE, read from scripts/build-image.sh itself
through a stand-in docker that notes its `docker build`. Nothing else differs from what the user
types. The project's
compose.yaml publishes fixed host ports (8888, 6006, 8787, 2222): they must be free here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from tests.container.tracked import Container, api, docker, problems
from tests.helpers import SYSTEM_PATH

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
TAG = "deepdocker:compose-windows"
PROJECT = "deepdockerwindows"


def windows_clone(dest: Path) -> Path:
    git = ["git", "-c", "core.autocrlf=true", "-c", "core.symlinks=false"]
    subprocess.run([*git, "clone", "-q", "--no-local", str(ROOT), str(dest)], check=True)
    return dest


def build_args_here(checkout: Path, tmp_path: Path) -> dict[str, str]:
    """The --build-arg values build-image.sh passes on this machine, less the labels' (declared
    after the last RUN, so they do not touch the layer cache)."""
    real = shutil.which("docker")
    assert real, "no docker command"
    stub = tmp_path / "bin"
    stub.mkdir()
    noted = tmp_path / "build-argv"
    (stub / "docker").write_text(
        f'#!/bin/sh\nif [ "$1" = build ]; then printf "%s\\n" "$@" > {noted}; exit 0; fi\nexec {real} "$@"\n'
    )
    (stub / "docker").chmod(0o755)
    env = {"PATH": f"{stub}:{SYSTEM_PATH}", "HOME": str(tmp_path), "WHEELHOUSE": os.environ.get("WHEELHOUSE", "")}
    subprocess.run(["scripts/build-image.sh", "Dockerfile.cpu", TAG, "ubuntu:24.04"],
                   cwd=checkout, env=env, check=True, capture_output=True, timeout=600)  # fmt: skip
    argv = noted.read_text().splitlines()
    values = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--build-arg")
    return {k: v for k, v in values.items() if k not in ("VERSION", "REVISION", "CREATED", "SOURCE")}


def test_compose_up_build_from_a_windows_checkout_starts_the_lab(image, tmp_path):
    # `image`: the build make image did here, whose layers this build reuses.
    checkout = windows_clone(tmp_path / "deepdocker")
    subprocess.run(["make", "-C", str(checkout), "certs"], env={"PATH": SYSTEM_PATH, "HOME": str(tmp_path)},
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    args = build_args_here(checkout, tmp_path)
    override = tmp_path / "compose.here.yaml"
    lines = ["services:", "  lab:", "    build:", "      network: host", "      args:"]
    lines += [f"        {k}: {v!r}" for k, v in sorted(args.items())]
    override.write_text("\n".join(lines) + "\n")
    compose = ["docker-compose", "-p", PROJECT, "-f", "compose.yaml", "-f", str(override)]
    env = {"PATH": SYSTEM_PATH, "HOME": str(tmp_path), "DEEPDOCKER_IMAGE": TAG}
    server = None
    if "WHEELHOUSE_URL" in args:  # as build-image.sh serves it, in case a layer is built anew
        port = urllib.parse.urlsplit(args["WHEELHOUSE_URL"]).port
        server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                   "--directory", os.environ["WHEELHOUSE"], str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        up = subprocess.run([*compose, "up", "--build", "-d"], cwd=checkout, env=env,
                            capture_output=True, text=True, timeout=3600)  # fmt: skip
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        cid = subprocess.run([*compose, "ps", "-q", "lab"], cwd=checkout, env=env,
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        lab = Container(cid)
        lab.wait_health("healthy")
        assert lab.inspect()["Config"]["Image"] == TAG
        logs = lab.logs()
        token = logs.split("shown once): ", 1)[1].split()[0] if "shown once): " in logs else ""
        assert len(token) >= 32, logs[-2000:]
        assert api(8888, "", "/api/contents")[0] == 403
        assert api(8888, token, "/api/contents")[0] == 200
        # Docker made ./sharedfolder for root; it was empty, so the notebook user took it over,
        # and a notebook saves into it.
        assert "now jovyan (uid 1000)'s" in logs, logs[-2000:]
        shared = checkout / "sharedfolder"
        assert (shared.stat().st_uid, shared.stat().st_gid) == (1000, 100)
        status, _ = api(8888, token, "/api/contents/sharedfolder/saved.txt",
                        {"type": "file", "format": "text", "content": "saved"}, "PUT")  # fmt: skip
        assert status in (200, 201)
        assert (shared / "saved.txt").read_text() == "saved"
        assert problems(lab.logs(), lab.expected) == []
    finally:
        down = [*compose, "down", "-v", "--timeout", "10"]
        subprocess.run(down, cwd=checkout, env=env, capture_output=True, timeout=300)
        if server:
            server.terminate()
        docker("rmi", TAG, check=False)
