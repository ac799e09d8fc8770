"""Files and folders written safely: whole (a new file of a random name, renamed over the old),
never through a link, owned as asked; and whether a folder can be made and written at all."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from .errors import UsageError

Ids = tuple[int, int]


def write_file(path: Path, text: str, mode: int, owner: Ids | None = None, group: int | None = None) -> None:
    """`text` at `path`, whole; owned by `owner` (UID, GID: Settings.ids) or, with `group` alone,
    root's and that group's."""
    # mkstemp: O_CREAT | O_EXCL under a random name, so nothing planted is opened.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), mode)
            if owner:
                os.fchown(f.fileno(), *owner)
            elif group is not None:
                os.fchown(f.fileno(), -1, group)
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def chown(path: Path, owner: Ids) -> None:
    os.chown(path, *owner)


def make_dir(path: Path, mode: int, owner: Ids | None = None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise RuntimeError(f"{path} is not a directory")
    os.chmod(path, mode)
    if owner:
        chown(path, owner)


def fresh_dir(path: Path, mode: int) -> None:
    """An empty folder of this process's own at `path`, whatever was there (a link is removed, not followed)."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)  # removes links as links (Linux: fd-based, no race to follow)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    path.mkdir(mode)
    os.chmod(path, mode)


def read_only(path: str) -> bool:
    """Whether `path` is on a file system mounted read-only (`:ro`, docker run --read-only)."""
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def check_folder(var: str, path: Path) -> None:
    """A folder deepdocker may make and write: every part of the path that exists is a real
    folder, and the first of them is on a file system that can be written."""
    for part in (path, *path.parents):
        if part.is_symlink() and part == path:
            raise UsageError(var, str(path), "a symbolic link", "a folder, not a link to one")
        if part.exists():
            if not part.is_dir():
                raise UsageError(var, str(path), f"{part} is not a directory", "a path deepdocker can make folders in")
            if read_only(str(part)):
                accepted = "a writable folder (docker run --read-only: mount a volume or --tmpfs there)"
                raise UsageError(var, str(path), f"{part} is on a read-only file system", accepted)
            return


def inside(path: str, folder: str | None) -> bool:
    """Whether `path` is `folder` or in it (links resolved)."""
    if not folder:
        return False
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")
