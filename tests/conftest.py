"""Fixtures every suite uses."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A folder other users can reach (pytest's own tmp_path is under a folder private to root)."""
    path = Path(tempfile.mkdtemp(prefix="deepdocker-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
