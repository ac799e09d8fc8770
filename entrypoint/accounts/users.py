"""Who the notebook daemons run as: NB_USER, NB_UID, NB_GID, NB_GROUP and the shared folder's owner.

Started as root, deepdocker runs Jupyter, TensorBoard and a command as NB_USER. When SHARED_DIR
(the image sets /root/sharedfolder) is owned by a host account, NB_USER takes that UID and GID
unless NB_UID says otherwise, so files written from the container belong to the host user. In
the image, an NB_USER that does not exist yet is the image's user (jovyan) renamed, home folder
included (docker-stacks' behaviour). NB_USER=root or NB_UID=0 knowingly keep everything root.
Started as any other UID (`docker run --user 4242:4242`), everything runs as that UID; one with
no passwd entry borrows NB_USER's (name, home) through nss_wrapper, as docker-stacks does.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
import subprocess
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path

from ..core import values
from ..core.errors import UsageError
from ..core.files import read_only
from ..core.model import Account, SharedFolder

# The image's notebook account, as the build made it (scripts/install-system.sh); kept up to date
# when NB_USER renames it. Absent outside the image: host accounts are never renamed.
IMAGE_USER_FILE = "/usr/local/lib/deepdocker/image-user"
NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")


def parse_id(var: str, raw: str) -> int:
    """A numeric id; 0 (root, or root's group) is taken too: only ever asked for knowingly."""
    if not re.fullmatch(r"\d{1,10}", raw.strip()) or not 0 <= int(raw) < 2**31:
        raise UsageError(var, raw, "not a numeric id", "an integer from 0 (root: knowingly) to 2147483647")
    return int(raw)


def image_user() -> str | None:
    try:
        with open(IMAGE_USER_FILE) as f:
            name = f.read().strip()
        pwd.getpwnam(name)
    except (OSError, KeyError):
        return None
    return name


def _allowed(st: os.stat_result, uid: int, gid: int, bits: int) -> bool:
    """Whether uid/gid have all of `bits` (r=4, w=2, x=1) on a file, by its owner/group/other bits."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        shift = 6
    elif st.st_gid == gid:
        shift = 3
    else:
        shift = 0
    return (st.st_mode >> shift) & bits == bits


def writable_by(path: str, uid: int, gid: int) -> bool:
    if read_only(path):
        return False
    return _allowed(os.stat(path), uid, gid, 2)


def readable_by(st: os.stat_result, uid: int, gid: int) -> bool:
    return _allowed(st, uid, gid, 4)


def listable_by(path: str, uid: int, gid: int) -> bool:
    """Whether uid/gid can open the folder and everything on the way to it."""
    parts = [path, *(str(p) for p in Path(path).resolve().parents)]
    return _allowed(os.stat(path), uid, gid, 5) and all(_allowed(os.stat(p), uid, gid, 1) for p in parts)


def root_only(folder: str) -> bool:
    """Whether only root can change what `folder` holds: it and every folder above it are root's,
    it is writable by no group or other user, and so is each folder above it unless that one is
    sticky (like /tmp: nobody but root can then rename or remove root's folder in it)."""
    try:
        leaf = os.stat(folder)
        if leaf.st_uid != 0 or leaf.st_mode & 0o022 or not stat.S_ISDIR(leaf.st_mode):
            return False
        # The folders above it as named and as resolved: a link in a user's folder is the user's to change.
        for parent in {*Path(os.path.abspath(folder)).parents, *Path(os.path.realpath(folder)).parents}:
            st = os.stat(parent)
            if st.st_uid != 0 or (st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX):
                return False
    except OSError:
        return False
    return True


def trusted_path(path: str | None) -> str:
    """The folders of PATH that only root can write: where root looks for programs. Root never
    runs a program from a folder the notebook user can write (a planted `sshd`, `python3`)."""
    entries = [p for p in (path or "").split(":") if os.path.isabs(p)]
    return ":".join(dict.fromkeys(p for p in entries if root_only(p)))


def shared_dir(env: Mapping[str, str]) -> str | None:
    path = env.get("SHARED_DIR") or None
    if path is not None:
        values.path("SHARED_DIR", path)
        if not os.path.isdir(path):
            raise UsageError("SHARED_DIR", path, "not a directory", "an existing directory (the shared folder)")
    return path


def resolve(env: Mapping[str, str], is_root: bool) -> Account:
    """The notebook account, with every related variable checked. Writes nothing."""
    raw_uid, raw_gid = env.get("NB_UID"), env.get("NB_GID")
    want_uid = parse_id("NB_UID", raw_uid) if raw_uid is not None else None
    want_gid = parse_id("NB_GID", raw_gid) if raw_gid is not None else None
    shared = shared_dir(env)

    if not is_root:
        account = _unprivileged(env)
        for var, want, have in (("NB_UID", want_uid, account.uid), ("NB_GID", want_gid, account.gid)):
            if want is not None and want != have:
                raise UsageError(
                    var, str(want), f"only root can change it; deepdocker runs as {have}", f"unset or {have}"
                )
        return account

    group = env.get("NB_GROUP")
    if group is not None and not NAME.fullmatch(group):
        raise UsageError("NB_GROUP", group, "not a group name", "a name such as users")
    me = pwd.getpwuid(os.getuid())
    name = env.get("NB_USER")
    if name == "root" or want_uid == 0:
        # Asked for knowingly, as docker-stacks users do: everything runs as root (a warning says so).
        if want_uid not in (None, 0):
            raise UsageError("NB_UID", str(want_uid), "NB_USER=root with another uid", "NB_UID=0, or unset")
        return Account("root", 0, 0, "/root")
    if want_gid == 0:
        raise UsageError(
            "NB_GID", "0", "root's group: the notebook user would get root's group files",
            "another group id, e.g. 100 (users); NB_USER=root runs everything as root, knowingly",
        )  # fmt: skip
    if name is None or name == me.pw_name:
        if want_uid is not None or want_gid is not None or group is not None:
            var = "NB_UID" if want_uid is not None else "NB_GID" if want_gid is not None else "NB_GROUP"
            raise UsageError(var, env[var], "set without NB_USER", f"{var} together with NB_USER")
        return Account(me.pw_name, me.pw_uid, me.pw_gid, env.get("HOME") or me.pw_dir)
    rename_from = None
    try:
        entry = pwd.getpwnam(name)
        home = entry.pw_dir
    except KeyError:
        rename_from = image_user()
        if rename_from is None:
            raise UsageError("NB_USER", name, "no such user", "an existing account") from None
        entry = pwd.getpwnam(rename_from)
        home = f"/home/{name}"

    uid, gid = entry.pw_uid, entry.pw_gid
    if want_uid is not None:
        uid = want_uid
        gid = want_gid if want_gid is not None else gid
    elif shared:
        st = os.stat(shared)
        if st.st_uid != 0:  # a host user's folder: take its owner, never root's group
            uid = st.st_uid
            gid = want_gid if want_gid is not None else (st.st_gid or gid)
    elif want_gid is not None:
        gid = want_gid
    if group is not None:
        try:
            taken = grp.getgrnam(group).gr_gid
        except KeyError:
            taken = gid
        if taken != gid:
            raise UsageError("NB_GROUP", group, f"already the name of gid {taken}", f"a name for gid {gid}")
    return Account(
        name, uid, gid, home, remap=(uid, gid) != (entry.pw_uid, entry.pw_gid), rename_from=rename_from, group=group
    )


def _unprivileged(env: Mapping[str, str]) -> Account:
    uid, gid = os.getuid(), os.getgid()
    try:
        entry = pwd.getpwuid(uid)
        return Account(entry.pw_name, uid, gid, env.get("HOME") or entry.pw_dir)
    except KeyError:  # `docker run --user 4242` (OpenShift): an id with no passwd entry
        pass
    # It borrows NB_USER's entry (the image's jovyan): that name and home, its own ids. Docker
    # sets HOME=/ for such an id: no one's home.
    home = env.get("HOME") if env.get("HOME") not in (None, "/") else None
    try:
        entry = pwd.getpwnam(env.get("NB_USER", ""))
    except KeyError:
        return Account(str(uid), uid, gid, home or "/", passwd=False)
    return Account(entry.pw_name, uid, gid, home or entry.pw_dir, passwd=False)


def nss_passwd(account: Account) -> str:
    """/etc/passwd with the account's entry as decided (its name, UID/GID, home): what nss_wrapper
    serves the daemons, for a UID with no entry or an /etc that cannot be written."""
    with open("/etc/passwd") as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        fields = line.split(":")
        if len(fields) == 7 and fields[0] in (account.name, account.rename_from):
            fields[0] = account.name
            fields[2:4] = [str(account.uid), str(account.gid)]
            fields[5] = account.home
            line = ":".join(fields)
        out.append(line)
    if account.name == str(account.uid):
        out.append(f"{account.uid}:x:{account.uid}:{account.gid}::{account.home}:/bin/bash")
    return "\n".join(out) + "\n"


def nss_group(account: Account) -> str:
    """/etc/group as `apply` would leave it, for nss_wrapper: the account's group named (NB_GROUP)
    or made, and a renamed account still a member of its groups."""
    with open("/etc/group") as f:
        lines = f.read().splitlines()
    out, found = [], False
    for line in lines:
        fields = line.split(":")
        if len(fields) == 4:
            if fields[2] == str(account.gid):
                found = True
                fields[0] = account.group or fields[0]
            members = [account.name if m == account.rename_from else m for m in fields[3].split(",") if m]
            fields[3] = ",".join(members)
            line = ":".join(fields)
        out.append(line)
    if not found:
        taken = {line.split(":", 1)[0] for line in lines}
        out.append(f"{account.group or new_group_name(account.name, account.gid, taken)}:x:{account.gid}:")
    return "\n".join(out) + "\n"


def new_group_name(user: str, gid: int, taken: Collection[str]) -> str:
    """The name a new NB_GID's group gets: the user's own, as docker-stacks names it, unless a group
    has that name already (the user's name and the GID then)."""
    return user if user not in taken else f"{user}-{gid}"


def shared_folder(path: str | None, account: Account, is_root: bool) -> SharedFolder | None:
    """Whether the notebook user can use the shared folder, and what to do when it cannot.

    A folder Docker creates for `-v /host:/root/sharedfolder` is root's and empty: the first
    thing most users do. An empty folder holds nothing to lose, so it is handed over. A
    non-empty one is the user's data: never re-owned, the lab starts and says what to do.
    """
    if path is None:
        return None
    who = f"{account.name} (uid {account.uid})"
    if read_only(path):
        return SharedFolder(path, "warn", f"{path} is mounted read-only: {who} can read it, nothing can be saved there")
    if writable_by(path, account.uid, account.gid):
        return SharedFolder(path, "ok")
    st = os.stat(path)
    if st.st_uid == 0 and is_root and not os.listdir(path):
        return SharedFolder(path, "adopt", f"{path} was an empty folder owned by root (made by Docker): now {who}'s")
    owner = "root" if st.st_uid == 0 else f"uid {st.st_uid}"
    return SharedFolder(
        path,
        "warn",
        f"{path} belongs to {owner} and is not empty, so it is left as it is: {who} can read it but not save "
        "there. Fix: on the host, chown -R YOUR_UID:YOUR_GID the folder you mounted (the notebook user then "
        "takes your UID at the next start), or make it writable (chmod 1777)",
    )


def can_write_as(path: str, uid: int, gid: int) -> bool:
    """Whether `uid`:`gid` can make a file in `path`, found by trying as that user in a child
    process (root only): a file system that maps owners (Docker Desktop's file sharing, some
    network mounts) may let a write through that the mode bits it shows would refuse."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            fd, name = tempfile.mkstemp(dir=path, prefix=".deepdocker-write-test-")
            os.close(fd)
            os.unlink(name)
            code = 0
        except BaseException:
            pass
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def adopt(folder: SharedFolder, account: Account) -> SharedFolder:
    """Hand an empty root-owned shared folder to the notebook user: that folder alone, no link
    followed. What came of it: the folder as decided, or a warning where the file system refuses
    or ignores a change of owner (vfat, some FUSE and network mounts, Docker Desktop's file
    sharing), so nothing claims a folder the notebook user still cannot write."""
    fd = os.open(folder.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        # Checked again on the open folder itself: only an empty root folder changes hands.
        if st.st_uid != 0 or os.listdir(fd):
            return folder
        try:
            os.fchown(fd, account.uid, account.gid)
            refused = ""
        except OSError as e:
            refused = os.strerror(e.errno) if e.errno else str(e)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if not refused and (after.st_uid, after.st_gid) == (account.uid, account.gid):
        return folder
    why = f"refused ({refused})" if refused else "ignored"
    if can_write_as(folder.path, account.uid, account.gid):
        note = f"{folder.path}: its file system {why} a change of owner; {account.name} can save there all the same"
        return SharedFolder(folder.path, "adopt", note)
    return SharedFolder(
        folder.path,
        "warn",
        f"{folder.path} is root's and its file system {why} a change of owner, so {account.name} "
        f"(uid {account.uid}) cannot save there. Fix: run with -e NB_UID=<the folder's owner on the host>, "
        "or mount a folder whose file system keeps owners",
    )


def apply(account: Account) -> None:
    """Make the account what was decided (root only): renamed, its group named, its UID/GID.

    Nothing is chowned recursively: in the image the notebook user's files (home, /opt/venv, R's
    site library) belong to the `users` group, writable by it, and the account stays in that
    group whatever its UID and GID become. Only the home folder itself changes hands.
    """
    if account.nss:
        return  # /etc is read-only: nss_wrapper serves the entry (prepare writes its files)
    if account.rename_from:
        rename(account)
    if account.group:
        _name_group(account.gid, account.group)
    if account.is_root:
        return
    entry = pwd.getpwnam(account.name)
    if not account.remap:
        _own_home(account, entry.pw_uid)
        return
    if account.gid != entry.pw_gid:
        try:
            grp.getgrgid(account.gid)
        except KeyError:
            taken = {g.gr_name for g in grp.getgrall()}
            name = new_group_name(account.name, account.gid, taken)
            subprocess.run(["groupadd", "-g", str(account.gid), name], check=True)
    # Not usermod -u/-g: they chown (and chgrp) everything in the home folder, a volume of the
    # user's files, and stop at a home that is a link (a renamed account's). The host UID may
    # already have a name in the image: two names for one UID, as usermod -o allows.
    _set_ids(account.name, account.uid, account.gid)
    _own_home(account, entry.pw_uid)


PASSWD = "/etc/passwd"


def _set_ids(name: str, uid: int, gid: int) -> None:
    """`name`'s UID and GID in /etc/passwd, and nothing else changed: the file written whole."""
    with open(PASSWD) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        fields = line.split(":")
        if len(fields) == 7 and fields[0] == name:
            fields[2:4] = [str(uid), str(gid)]
            lines[i] = ":".join(fields)
    st = os.stat(PASSWD)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(PASSWD), prefix=".passwd.")
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
        os.fchown(f.fileno(), st.st_uid, st.st_gid)
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, PASSWD)


def docker_made(path: str) -> bool:
    """Whether `path` is the empty, root-owned, writable mount point Docker makes for a bind mount of
    a host folder that did not exist (`-v ./home:/home/jovyan`): nobody's files, to hand over."""
    try:
        st = os.stat(path, follow_symlinks=False)
        return (
            stat.S_ISDIR(st.st_mode)
            and st.st_uid == 0
            and os.path.ismount(path)
            and not os.listdir(path)
            and not read_only(path)
        )
    except OSError:
        return False


def home_folder(account: Account) -> str:
    """The folder the account's home is. A renamed account's /home/NEW may be the link rename() made
    (root's own, in a folder only root writes) to the image's home: that one link is followed, no other
    (a link the notebook user could have made is taken as it is, and the callers open it O_NOFOLLOW)."""
    home = account.home
    parent = os.path.dirname(home)
    try:
        link, folder = os.lstat(home), os.stat(parent)
    except OSError:
        return home
    if stat.S_ISLNK(link.st_mode) and link.st_uid == 0 and folder.st_uid == 0 and not folder.st_mode & 0o022:
        target = os.path.join(parent, os.readlink(home))
        if not os.path.islink(target):
            return os.path.normpath(target)
    return home


def _own_home(account: Account, old_uid: int) -> None:
    """The home folder itself (not what is in it; never a link, never a mount of the user's files) is
    the account's, and writable by it alone: sshd refuses keys under a group-writable home. An empty
    mount point Docker made (docker_made) is handed over like the image's own home."""
    home = home_folder(account)
    try:
        fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        st = os.fstat(fd)
        if st.st_uid == 0 and docker_made(home) and not os.listdir(fd):
            old_uid = 0
        elif os.path.ismount(home) or read_only(home):
            return
        if st.st_uid not in (account.uid, old_uid):
            return
        if (st.st_uid, st.st_gid) != (account.uid, account.gid):
            os.fchown(fd, account.uid, account.gid)
        if st.st_mode & 0o022:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o022)
    finally:
        os.close(fd)


def rename(account: Account) -> None:
    """The image's account becomes NB_USER: its name, and /home/NEW for its home. A /home/NEW that
    exists (a mounted volume) is used as it is; else it is a link to the old home (nothing is
    copied: an image layer's folder cannot be renamed on overlayfs anyway)."""
    assert account.rename_from is not None
    old = pwd.getpwnam(account.rename_from)
    home = account.home
    if not os.path.lexists(home) and os.path.isdir(old.pw_dir):
        os.symlink(old.pw_dir, home)
    subprocess.run(["usermod", "-l", account.name, "-d", home, account.rename_from], check=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(IMAGE_USER_FILE))
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o644)
        f.write(account.name + "\n")
    os.replace(tmp, IMAGE_USER_FILE)


def _name_group(gid: int, name: str) -> None:
    try:
        current = grp.getgrgid(gid).gr_name
    except KeyError:
        subprocess.run(["groupadd", "-g", str(gid), name], check=True)
        return
    if current != name:
        subprocess.run(["groupmod", "-n", name, current], check=True)


def groups(account: Account) -> list[int]:
    """The account's supplementary groups (as login would set them), its own gid included."""
    if account.is_root:
        return [0]
    if account.nss:  # as nss_wrapper serves them to the daemons (this process reads /etc/group)
        member = [int(f[2]) for f in (ln.split(":") for ln in nss_group(account).splitlines()) if len(f) == 4
                  and account.name in f[3].split(",")]  # fmt: skip
        return sorted({account.gid, *member})
    try:
        return sorted(set(os.getgrouplist(account.name, account.gid)))
    except OSError:
        return [account.gid]
