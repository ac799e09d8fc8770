"""Unit tests carry their own world: stand-in daemons on a PATH they build, a HOME of their own.

These tests check what deepdocker does with a program's path (parsing, rendering, settings,
CLI errors), not the program: a few lines of shell named like the daemon are enough.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from entrypoint.services import REGISTRY

# Every registry program, so SERVICES=all and "is it installed" never depend on this machine.
PROGRAMS = tuple(s.program for s in REGISTRY.values())


def make_stand_ins(folder: Path, programs=PROGRAMS) -> Path:
    """Executables that exit 0, named like the daemons; jupyter-lab's first line names a Python
    (deepdocker reads it to hash a password with Jupyter's own code)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in programs:
        exe = folder / name
        exe.write_text(f"#!{sys.executable}\nraise SystemExit(0)\n")
        exe.chmod(0o755)
    return folder


@pytest.fixture
def stand_ins(tmp_path) -> Path:
    return make_stand_ins(tmp_path / "bin")


@pytest.fixture
def base_env(tmp_path, stand_ins) -> dict[str, str]:
    """The whole environment a unit test gives deepdocker: nothing of the caller's."""
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": str(stand_ins), "HOME": str(home), "DEEPDOCKER_RUN_DIR": str(tmp_path / "run")}
