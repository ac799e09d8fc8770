"""The templates ship inside the package: a wheel built from this checkout holds one for every
registry service, and an entrypoint that imports from that wheel alone renders every service.

Built with the test environment's own setuptools (no build isolation: no network), from a copy of
the files the image's build copies (Dockerfile.cpu), so the checkout's own folders play no part.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from entrypoint.services import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
# What Dockerfile.cpu copies into /opt/deepdocker/src before `pip install`.
SOURCES = ("setup.cfg", "setup.py", "pyproject.toml", "README.md", "entrypoint", "healthchecks", "supervisor")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull},
    )
    assert done.returncode == 0, done.stderr
    (found,) = out.glob("deepdocker-*.whl")
    return found


def test_the_wheel_holds_every_template(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {n for n in names if n.endswith(".j2")}
    expected = {"deepdocker_supervisor/supervisord.conf.j2"} | {
        f"entrypoint/services/{name}/program.conf.j2" for name in REGISTRY
    }
    assert expected <= templates
    # Each one the checkout has, and nothing else: supervisor/ is a folder, never a package.
    in_checkout = {str(p.relative_to(ROOT)) for p in (ROOT / "entrypoint").rglob("*.j2")} | {
        str(p.relative_to(ROOT / "supervisor")) for p in (ROOT / "supervisor").rglob("*.j2")
    }
    assert templates == in_checkout
    assert not any(n.startswith(("supervisor/", "share/")) or "/data/" in n for n in names)


def test_no_link_anywhere_in_the_tree():
    """A Windows checkout (core.symlinks=false) turns a link into a text file holding its target."""
    tracked = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert tracked.strip(), "not a git checkout"
    links = [line.split("\t", 1)[1] for line in tracked.splitlines() if line.startswith("120000 ")]
    assert links == []


def test_the_installed_package_renders_every_service(wheel, tmp_path, base_env):
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    # The unpacked wheel first on the path: this checkout's entrypoint/ must not be the one imported.
    env = {**base_env, "SERVICES": "all", "PYTHONPATH": str(target)}
    code = "import entrypoint, runpy; print(entrypoint.__file__); runpy.run_module('entrypoint', run_name='__main__')"
    done = subprocess.run(
        [sys.executable, "-c", code, "--print-config"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    first, _, config = done.stdout.partition("\n")
    assert first.startswith(str(target))
    for name in REGISTRY:
        assert f"[program:{name}]" in config
