"""Root keeps to root's places: the programs it finds on PATH, the folder it keeps sshd's host key in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrypoint.accounts import users
from entrypoint.core.errors import UsageError
from entrypoint.core.model import Context
from entrypoint.services.sshd import own_key_dir

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="these folders are root's and another uid's: needs root")

USER = users.Account("alice", 4242, 4242, "/nonexistent")


def folder(path: Path, mode: int, uid: int = 0) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, uid)
    path.chmod(mode)
    return path


def context(tmp_path: Path) -> Context:
    return Context(True, True, USER, tmp_path / "run", str(tmp_path / "notebooks"))


def test_trusted_path_keeps_root_only_folders(tmp_path):
    root_bin = folder(tmp_path / "root" / "bin", 0o755)
    folder(tmp_path / "alice", 0o755, uid=4242)
    theirs = folder(tmp_path / "alice" / "bin", 0o755, uid=4242)
    shared = folder(tmp_path / "shared", 0o775)
    open_bin = folder(tmp_path / "open", 0o777)
    below_theirs = folder(tmp_path / "alice" / "bin" / "deeper", 0o755)
    link = tmp_path / "alice" / "link"
    link.symlink_to(root_bin)
    path = ":".join(str(p) for p in (theirs, root_bin, shared, open_bin, below_theirs, link, "relative", root_bin))
    # tmp_path is below /tmp: sticky and root's, so a folder of root's there counts as root's.
    assert users.trusted_path(path) == str(root_bin)


def test_a_planted_sshd_is_never_what_root_runs(tmp_path, stand_ins):
    theirs = folder(tmp_path / "venv" / "bin", 0o755, uid=4242)
    (theirs / "sshd").write_text("#!/bin/sh\nexit 0\n")
    (theirs / "sshd").chmod(0o755)
    from entrypoint.settings import installed

    found = installed(f"{theirs}:{stand_ins}", is_root=True)
    assert found["sshd"] == str(stand_ins / "sshd")
    # The notebook user's own daemons still come from the PATH as given (they run as the user).
    (theirs / "jupyter-lab").write_text("#!/bin/sh\nexit 0\n")
    (theirs / "jupyter-lab").chmod(0o755)
    assert installed(f"{theirs}:{stand_ins}", is_root=True)["jupyter"] == str(theirs / "jupyter-lab")


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda t: folder(t / "tmpish", 0o1777), "others may write in it"),
        (lambda t: folder(t / "alice", 0o755, uid=4242) / "keys", "can be written by alice"),
        (lambda t: folder(t / "open", 0o777) / "keys", "open can be written by"),
        (lambda t: folder(t / "theirs", 0o700, uid=4242), "belongs to uid 4242"),
        (lambda t: folder(t / "notebooks", 0o700), "the notebook user's folder (NOTEBOOK_DIR)"),
        (lambda t: folder(t / "shared", 0o755) / "keys", "the notebook user's folder (SHARED_DIR)"),
    ],
)
def test_a_host_key_folder_that_is_not_deepdockers_is_refused(tmp_path, make, problem):
    target = make(tmp_path)
    before = {p: p.stat().st_mode for p in tmp_path.rglob("*")}
    with pytest.raises(UsageError) as e:
        own_key_dir(target, context(tmp_path), {"SHARED_DIR": str(tmp_path / "shared")})
    assert e.value.var == "SSH_HOST_KEY_DIR" and problem in e.value.problem
    assert {p: p.stat().st_mode for p in tmp_path.rglob("*")} == before  # nothing re-moded


def test_a_folder_holding_anything_but_host_keys_is_refused(tmp_path):
    keys = folder(tmp_path / "keys", 0o755)
    (keys / "ssh_host_ed25519_key").write_text("k")
    own_key_dir(keys, context(tmp_path), {})
    (keys / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds other files"):
        own_key_dir(keys, context(tmp_path), {})


def test_a_new_folder_or_an_empty_volume_of_roots_is_taken(tmp_path):
    own_key_dir(tmp_path / "new" / "keys", context(tmp_path), {})
    own_key_dir(folder(tmp_path / "volume", 0o755), context(tmp_path), {})
