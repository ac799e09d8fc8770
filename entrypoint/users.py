"""Who the notebook daemons run as: NB_USER, NB_UID, NB_GID and the shared folder's owner.

Started as root, deepdocker runs Jupyter and TensorBoard as NB_USER. When SHARED_DIR (the
image sets /root/sharedfolder) is owned by a host account, NB_USER takes that UID and GID
unless NB_UID says otherwise, so files written from the container belong to the host user.
Started as any other UID (`docker run --user 4242:4242`), everything runs as that UID.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import values
from .errors import UsageError


@dataclass(frozen=True)
class SharedFolder:
    """What to do with SHARED_DIR at start; decided here, done by prepare (nothing is written here).

    action "ok": the notebook user can write it. "adopt": an empty folder that belongs to root
    (Docker made it for a `-v` mount): give it to the notebook user. "warn": start anyway and say
    `note`; its files are never re-owned.
    """

    path: str
    action: str
    note: str = ""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str
    # True: NB_USER's UID/GID must be changed to uid/gid at start (root only).
    remap: bool = False


def parse_id(var: str, raw: str) -> int:
    if not re.fullmatch(r"\d{1,10}", raw.strip()) or not 0 < int(raw) < 2**31:
        raise UsageError(var, raw, "not a non-root numeric id", "an integer from 1 to 2147483647")
    return int(raw)


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


def read_only(path: str) -> bool:
    """Whether `path` is on a file system mounted read-only (`:ro`, docker run --read-only)."""
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


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

    me = pwd.getpwuid(os.getuid())
    name = env.get("NB_USER")
    if name is None or name == me.pw_name:
        if want_uid is not None:
            raise UsageError("NB_UID", str(want_uid), "set without NB_USER", "NB_UID together with NB_USER")
        return Account(me.pw_name, me.pw_uid, me.pw_gid, env.get("HOME") or me.pw_dir)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise UsageError("NB_USER", name, "no such user", "an existing account") from None

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
    return Account(name, uid, gid, entry.pw_dir, remap=(uid, gid) != (entry.pw_uid, entry.pw_gid))


def _unprivileged(env: Mapping[str, str]) -> Account:
    uid, gid = os.getuid(), os.getgid()
    try:
        entry = pwd.getpwuid(uid)
        name, home = entry.pw_name, env.get("HOME") or entry.pw_dir
    except KeyError:  # `docker run --user 4242`: an id with no passwd entry
        name, home = str(uid), env.get("HOME") or "/"
    # NB_USER (the image sets it) names whom root would switch to; started as another
    # user, there is no switching, and everything runs as that user.
    return Account(name, uid, gid, home)


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


def adopt(folder: SharedFolder, account: Account) -> None:
    """Hand an empty root-owned shared folder to the notebook user: that folder alone, no link followed."""
    fd = os.open(folder.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        # Checked again on the open folder itself: only an empty root folder changes hands.
        if st.st_uid == 0 and not os.listdir(fd):
            os.fchown(fd, account.uid, account.gid)
    finally:
        os.close(fd)


def apply(account: Account) -> None:
    """Give NB_USER the decided UID/GID (root only), and its home folder with it."""
    if not account.remap:
        return
    entry = pwd.getpwnam(account.name)
    old = entry.pw_uid
    if account.gid != entry.pw_gid:
        groups = subprocess.run(["getent", "group", str(account.gid)], capture_output=True).returncode == 0
        if not groups:
            subprocess.run(["groupadd", "-g", str(account.gid), f"{account.name}-{account.gid}"], check=True)
        subprocess.run(["usermod", "-g", str(account.gid), account.name], check=True)
    if account.uid != entry.pw_uid:
        # -o: the host UID may already have a name in the image.
        subprocess.run(["usermod", "-o", "-u", str(account.uid), account.name], check=True)
    home = Path(account.home)
    for root, dirs, files in os.walk(home):
        # Not into mounted volumes: those keep their owners.
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(root, d))]
        for item in [root, *(os.path.join(root, f) for f in files)]:
            # Only what the account's old UID owned: a hard link to root's file stays root's.
            if os.lstat(item).st_uid == old:
                os.lchown(item, account.uid, account.gid)
