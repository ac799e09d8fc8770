"""A checkout made as Git for Windows makes one (core.autocrlf=true, core.symlinks=false) holds
the same bytes as this one: LF endings everywhere, no file standing in for a link."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_a_windows_checkout_has_lf_endings_and_no_links(tmp_path):
    # Committed files only: a clone is what a user gets.
    clone = tmp_path / "windows"
    windows = ["-c", "core.autocrlf=true", "-c", "core.symlinks=false"]
    subprocess.run(["git", *windows, "clone", "-q", "--no-local", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "config", "core.autocrlf", "true"], check=True)
    files = git("ls-files", cwd=clone).splitlines()
    assert "Dockerfile.cpu" in files and "entrypoint/cli.py" in files
    crlf = [f for f in files if b"\r\n" in (clone / f).read_bytes()]
    assert crlf == []
    modes = git("ls-files", "-s", cwd=clone).splitlines()
    assert [m for m in modes if m.startswith("120000 ")] == []
    # The bytes are the committed ones: nothing converted on the way out.
    for f in ("scripts/install-system.sh", ".ci/run", "Makefile"):
        committed = subprocess.run(["git", "cat-file", "blob", f"HEAD:{f}"], cwd=ROOT, capture_output=True, check=True)
        assert (clone / f).read_bytes() == committed.stdout, f
