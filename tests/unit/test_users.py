"""Which UID/GID the notebook user gets: decided from env and the shared folder, writing nothing."""

import os
import pwd
import shutil
import subprocess

import pytest

from entrypoint.accounts import users
from entrypoint.accounts.users import SharedFolder, adopt, resolve, shared_folder, writable_by

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
    assert adopt(folder, account) == folder
    assert (shared.stat().st_uid, shared.stat().st_gid) == (account.uid, account.gid)
    assert writable_by(str(shared), account.uid, account.gid)


def bindfs_mount(src, mnt, *opts):
    """A FUSE mount whose chown is refused or ignored, as on vfat or Docker Desktop's file sharing."""
    if not shutil.which("bindfs") or not os.path.exists("/dev/fuse"):
        reason = "bindfs (Debian's bindfs) and /dev/fuse are needed to mount a file system that refuses chown"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    mnt.mkdir()
    subprocess.run(["bindfs", *opts, str(src), str(mnt)], check=True)


@root_only
@pytest.mark.parametrize("option, word", [("--chown-deny", "refused"), ("--chown-ignore", "ignored")])
def test_a_file_system_that_will_not_change_owners_is_said_not_claimed(shared, tmp_path, option, word):
    shared.chmod(0o755)
    mnt = tmp_path / "mnt"
    bindfs_mount(shared, mnt, option)
    try:
        account, folder = plan(mnt)
        assert folder.action == "adopt"
        outcome = adopt(folder, account)
        assert outcome.action == "warn" and word in outcome.note and "NB_UID" in outcome.note, outcome
        assert len(outcome.note.splitlines()) == 1
        assert mnt.stat().st_uid == 0
    finally:
        subprocess.run(["fusermount", "-u", str(mnt)], check=False)


@root_only
def test_where_chown_is_refused_but_anyone_may_write_the_folder_is_used(public_tmp):
    shared = public_tmp / "shared"
    shared.mkdir(0o777)
    shared.chmod(0o777)
    mnt = public_tmp / "mnt"
    bindfs_mount(shared, mnt, "--chown-deny")
    try:
        account = resolve({"NB_USER": "nobody"}, is_root=True)
        outcome = adopt(SharedFolder(str(mnt), "adopt"), account)
        assert outcome.action == "adopt" and "refused" in outcome.note and "can save there" in outcome.note
        assert users.can_write_as(str(mnt), account.uid, account.gid)
    finally:
        subprocess.run(["fusermount", "-u", str(mnt)], check=False)


@root_only
def test_can_write_as_tries_as_that_user(public_tmp):
    shared = public_tmp
    assert not users.can_write_as(str(shared), NOBODY.pw_uid, NOBODY.pw_gid)
    shared.chmod(0o777)
    assert users.can_write_as(str(shared), NOBODY.pw_uid, NOBODY.pw_gid)
    assert os.listdir(shared) == [], "the trial leaves nothing"


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


def test_root_s_group_is_refused_in_one_line():
    from entrypoint.core.errors import UsageError

    with pytest.raises(UsageError) as e:
        resolve({"NB_USER": "nobody", "NB_GID": "0"}, is_root=True)
    assert e.value.var == "NB_GID" and "root's group" in str(e.value)
    # NB_USER=root keeps everything root's, knowingly.
    assert resolve({"NB_USER": "root", "NB_GID": "0"}, is_root=True).gid == 0


@pytest.fixture
def etc(tmp_path, monkeypatch):
    """A passwd and group file of the test's own, read where /etc/passwd and /etc/group would be."""
    passwd, group = tmp_path / "passwd", tmp_path / "group"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\njovyan:x:1000:100::/home/jovyan:/bin/bash\n")
    group.write_text("root:x:0:\nusers:x:100:jovyan\nstaff:x:50:jovyan,other\n")
    real_open = open

    def redirected(path, *args, **kwargs):
        path = {"/etc/passwd": passwd, "/etc/group": group}.get(str(path), path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", redirected)
    monkeypatch.setattr(users, "PASSWD", str(passwd))
    return passwd, group


def test_a_uid_change_edits_the_entry_alone(etc):
    passwd, _ = etc
    users._set_ids("jovyan", 1500, 1500)
    assert passwd.read_text() == "root:x:0:0:root:/root:/bin/bash\njovyan:x:1500:1500::/home/jovyan:/bin/bash\n"


def test_a_read_only_etc_gets_the_entry_from_nss_wrapper(etc):
    renamed = users.Account("alice", 1500, 1600, "/home/jovyan", remap=True, rename_from="jovyan", nss=True)
    assert "alice:x:1500:1600::/home/jovyan:/bin/bash" in users.nss_passwd(renamed).splitlines()
    group = users.nss_group(renamed).splitlines()
    # The renamed account keeps its groups (users, staff), and its new gid gets a group of its own,
    # of its name, as docker-stacks' NB_GID does (the GID too where that name is a group's already).
    assert "users:x:100:alice" in group and "staff:x:50:alice,other" in group and "alice:x:1600:" in group
    staff = users.Account("staff", 1500, 1600, "/home/jovyan", remap=True, rename_from="jovyan", nss=True)
    assert "staff-1600:x:1600:" in users.nss_group(staff).splitlines()
    assert users.groups(renamed) == [50, 100, 1600]
    named = users.Account("jovyan", 1000, 100, "/home/jovyan", group="lab", nss=True)
    assert "lab:x:100:jovyan" in users.nss_group(named).splitlines()
