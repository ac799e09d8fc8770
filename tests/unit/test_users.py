"""Which UID/GID the notebook user gets: decided from env and the shared folder, writing nothing."""

import os
import pwd

import pytest

from entrypoint.users import SharedFolder, adopt, resolve, shared_folder, writable_by

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


def plan(shared):
    account = resolve({"NB_USER": "nobody", "SHARED_DIR": str(shared)}, is_root=True)
    return account, shared_folder(str(shared), account, is_root=True)


@root_only
def test_an_empty_root_folder_is_adopted_by_the_notebook_user(shared):
    # What Docker makes for `-v /sharedfolder:/root/sharedfolder` when /sharedfolder is missing.
    shared.chmod(0o755)
    account, folder = plan(shared)
    assert (account.uid, account.remap) == (NOBODY.pw_uid, False)
    assert folder.action == "adopt" and "owned by root" in folder.note
    assert shared.stat().st_uid == 0, "deciding writes nothing"
    adopt(folder, account)
    assert (shared.stat().st_uid, shared.stat().st_gid) == (account.uid, account.gid)
    assert writable_by(str(shared), account.uid, account.gid)


@root_only
def test_a_root_folder_with_files_is_never_re_owned(shared):
    shared.chmod(0o755)
    (shared / "data.csv").write_text("mine")
    account, folder = plan(shared)
    assert folder.action == "warn"
    assert "not empty" in folder.note and "chown" in folder.note
    # Even if asked to, adopt() re-checks the folder and leaves a non-empty one alone.
    adopt(SharedFolder(str(shared), "adopt"), account)
    assert shared.stat().st_uid == 0 and (shared / "data.csv").stat().st_uid == 0


@root_only
def test_an_adopted_folder_link_is_not_followed(shared, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OSError):
        adopt(SharedFolder(str(link), "adopt"), resolve({"NB_USER": "nobody"}, is_root=True))
    assert target.stat().st_uid == 0


@root_only
def test_a_root_folder_open_to_all_is_used_as_it_is(shared):
    shared.chmod(0o1777)
    account, folder = plan(shared)
    assert (account.uid, folder.action) == (NOBODY.pw_uid, "ok")


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
