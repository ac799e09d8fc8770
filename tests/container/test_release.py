"""`make release REGISTRY=host:port` against a real registry (Debian's docker-registry on 127.0.0.1):
one multi-architecture tag and a version tag, each a manifest list of linux/amd64 and linux/arm64,
then pulled back for each architecture and run, `uname -m` right in each."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tests.container.conftest import ROOT
from tests.container.tracked import docker
from tests.helpers import wait_until

pytestmark = pytest.mark.container
SETUP = (ROOT / "setup.cfg").read_text().splitlines()
VERSION = next(line.split(" = ", 1)[1] for line in SETUP if line.startswith("version = "))


@pytest.fixture
def registry():
    program = shutil.which("docker-registry", path="/usr/bin:/usr/sbin")
    if not program:
        if os.environ.get("CI"):
            pytest.fail("CI must test the release against a real registry: apt-get install docker-registry")
        pytest.skip("no registry to push to: apt-get install docker-registry (Debian)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="deepdocker-registry-"))
    (folder / "config.yml").write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder}/data\n"
        f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: warn\n"
    )
    server = subprocess.Popen([program, "serve", str(folder / "config.yml")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def answers() -> bool:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=5).status == 200
        except OSError:
            assert server.poll() is None, "docker-registry exited"
            return False

    try:
        wait_until(answers, 30, interval=0.2, what="the registry to answer")
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def test_release_pushes_one_tag_for_both_architectures_and_each_pulls_back(image, arm64_image, registry):
    done = subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "release", f"REGISTRY={registry}"],
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tags = [f"{registry}/deepdocker:cpu", f"{registry}/deepdocker:cpu-{VERSION}"]
    for tag in tags:
        assert f"release: pushed {tag} (amd64 arm64)" in done.stdout, done.stdout
        listed = json.loads(docker("manifest", "inspect", "--insecure", tag).stdout)
        assert listed["mediaType"].endswith("manifest.list.v2+json"), listed
        platforms = {(m["platform"]["os"], m["platform"]["architecture"]) for m in listed["manifests"]}
        assert platforms == {("linux", "amd64"), ("linux", "arm64")}
    pulled = []
    try:
        for platform, machine, local in (("linux/arm64", "aarch64", arm64_image), ("linux/amd64", "x86_64", image)):
            docker("pull", "-q", "--platform", platform, tags[0], timeout=1200)
            pulled.append(tags[0])
            inspected = json.loads(docker("image", "inspect", tags[0]).stdout)[0]
            assert inspected["Architecture"] == platform.split("/")[1]
            # The very image that was built: the same layers.
            built = json.loads(docker("image", "inspect", local).stdout)[0]
            assert inspected["RootFS"]["Layers"] == built["RootFS"]["Layers"]
            ran = docker("run", "--rm", "--entrypoint", "uname", tags[0], "-m", timeout=300)
            assert ran.stdout.strip() == machine
    finally:
        for tag in {*pulled, *(f"{registry}/deepdocker:cpu-{VERSION}-{a}" for a in ("amd64", "arm64"))}:
            docker("rmi", tag, check=False)
        for tag in tags:
            docker("manifest", "rm", tag, check=False)
