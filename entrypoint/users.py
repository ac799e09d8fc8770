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

from .errors import UsageError


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


def writable_by(path: str, uid: int, gid: int) -> bool:
    st = os.stat(path)
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        return False
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & 0o200)
    if st.st_gid == gid:
        return bool(st.st_mode & 0o020)
    return bool(st.st_mode & 0o002)


def shared_dir(env: Mapping[str, str]) -> str | None:
    path = env.get("SHARED_DIR") or None
    if path is not None and not os.path.isdir(path):
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
        _check_shared(shared, account)
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
        if st.st_uid != 0:  # a host user's folder: take its owner
            uid = st.st_uid
            gid = want_gid if want_gid is not None else st.st_gid
    elif want_gid is not None:
        gid = want_gid
    account = Account(name, uid, gid, entry.pw_dir, remap=(uid, gid) != (entry.pw_uid, entry.pw_gid))
    _check_shared(shared, account)
    return account


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


def _check_shared(shared: str | None, account: Account) -> None:
    if shared and not writable_by(shared, account.uid, account.gid):
        owner = os.stat(shared).st_uid
        why = " (owned by root, whom the notebook user never becomes)" if owner == 0 else ""
        raise UsageError(
            "SHARED_DIR",
            shared,
            f"not writable by {account.name} (uid {account.uid}, gid {account.gid}){why}",
            "a folder owned by a host user (the notebook user takes its UID), or one it may write",
        )


def apply(account: Account) -> None:
    """Give NB_USER the decided UID/GID (root only), and its home folder with it."""
    if not account.remap:
        return
    entry = pwd.getpwnam(account.name)
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
            os.lchown(item, account.uid, account.gid)
