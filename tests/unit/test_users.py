"""Which UID/GID the notebook user gets: decided from env and the shared folder, writing nothing."""

import os
import pwd

import pytest

from entrypoint.errors import UsageError
from entrypoint.users import resolve, writable_by

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="owning a folder as another UID needs root")
NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def shared(tmp_path):
    path = tmp_path / "shared"
    path.mkdir()
    return path


@root_only
def test_a_host_owned_shared_folder_gives_its_uid_and_gid(shared):
    os.chown(shared, 4242, 4343)
    account = resolve({"NB_USER": "nobody", "SHARED_DIR": str(shared)}, is_root=True)
    assert (account.name, account.uid, account.gid, account.remap) == ("nobody", 4242, 4343, True)


@root_only
def test_nb_uid_wins_over_the_folder(shared):
    os.chown(shared, 4242, 4242)
    shared.chmod(0o777)
    account = resolve({"NB_USER": "nobody", "SHARED_DIR": str(shared), "NB_UID": "5000"}, is_root=True)
    assert (account.uid, account.gid) == (5000, NOBODY.pw_gid)


@root_only
def test_a_root_owned_folder_changes_nothing_but_must_be_writable(shared):
    shared.chmod(0o755)
    with pytest.raises(UsageError, match=r"^SHARED_DIR=.*not writable by nobody"):
        resolve({"NB_USER": "nobody", "SHARED_DIR": str(shared)}, is_root=True)
    shared.chmod(0o777)
    account = resolve({"NB_USER": "nobody", "SHARED_DIR": str(shared)}, is_root=True)
    assert (account.uid, account.remap) == (NOBODY.pw_uid, False)


def test_unprivileged_runs_as_itself(shared):
    account = resolve({"HOME": str(shared)}, is_root=False)
    assert (account.uid, account.gid, account.home) == (os.getuid(), os.getgid(), str(shared))


@root_only
def test_writable_by_follows_owner_group_and_other_bits(shared):
    os.chown(shared, 4242, 4343)
    shared.chmod(0o750)
    assert writable_by(str(shared), 4242, 1)  # owner: rwx
    assert not writable_by(str(shared), 5000, 4343)  # group: r-x
    assert not writable_by(str(shared), 5000, 5000)  # other: ---
    shared.chmod(0o775)
    assert writable_by(str(shared), 5000, 4343)
    assert writable_by(str(shared), 0, 0)  # root writes anywhere writable
