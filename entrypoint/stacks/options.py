"""jupyter/docker-stacks' start-up variables, read the way its start.sh reads them.

NB_UMASK, GRANT_SUDO, CHOWN_HOME(_OPTS), CHOWN_EXTRA(_OPTS), GEN_CERT, JUPYTER_ENV_VARS_TO_UNSET
and RESTARTABLE ("Common Features" in docker-stacks' docs). NB_USER/NB_UID/NB_GID/NB_GROUP live
in entrypoint.accounts.users; NOTEBOOK_ARGS, DOCKER_STACKS_JUPYTER_CMD and the start-*.{sh,py} commands
in entrypoint.services.jupyter.command. Pure: reads env and the filesystem, writes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping

from ..core import values
from ..core.errors import UsageError
from ..core.model import Stacks

VARIABLES = (
    "NB_GROUP",
    "NB_UMASK",
    "GRANT_SUDO",
    "CHOWN_HOME",
    "CHOWN_HOME_OPTS",
    "CHOWN_EXTRA",
    "CHOWN_EXTRA_OPTS",
    "GEN_CERT",
    "JUPYTER_ENV_VARS_TO_UNSET",
    "RESTARTABLE",
    "NOTEBOOK_ARGS",
    "DOCKER_STACKS_JUPYTER_CMD",
)
# Only root can do these: started as another user, asking for them is a mistake worth a line.
ROOT_ONLY = ("GRANT_SUDO", "CHOWN_HOME", "CHOWN_EXTRA")
SUDOERS = "/etc/sudoers.d/deepdocker-grant-sudo"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def yes(var: str, raw: str | None) -> bool:
    """docker-stacks' switches: "yes" or "1" turn them on (true/on too); no/0/false/off/empty off."""
    return values.switch(var, raw, accepted="yes or no (also 1/0, true/false)")


def parse_umask(raw: str) -> int:
    if not re.fullmatch(r"[0-7]{3,4}", raw.strip()) or int(raw, 8) > 0o777:
        raise UsageError("NB_UMASK", raw, "not a umask", "three or four octal digits, e.g. 002 or 0022")
    return int(raw, 8)


def parse_opts(var: str, raw: str | None) -> bool:
    """CHOWN_*_OPTS: chown's options. Only -R means anything here (recursive)."""
    if raw is None or not raw.strip():
        return False
    if raw.strip() in ("-R", "--recursive"):
        return True
    raise UsageError(var, raw, "an option deepdocker does not take", "-R (recursive), or empty")


def parse_folders(var: str, raw: str) -> tuple[str, ...]:
    folders = tuple(p.strip() for p in raw.split(",") if p.strip())
    for folder in folders:
        values.text(var, folder, limit=values.MAX_PATH, what="absolute paths")
        if not os.path.isabs(folder) or not os.path.isdir(folder):
            raise UsageError(var, folder, "not an existing folder", "absolute paths of folders, separated by commas")
        if os.path.realpath(folder) == "/":
            raise UsageError(var, folder, "the whole file system", "folders of the user's")
    return folders


def parse_unset(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    for name in names:
        if not _ENV_NAME.fullmatch(name):
            raise UsageError("JUPYTER_ENV_VARS_TO_UNSET", raw, f"{name!r} is not a variable name", "NAMES,LIKE_THIS")
    return names


def parse(env: Mapping[str, str], is_root: bool) -> Stacks:
    if not is_root:
        for var in ROOT_ONLY:
            asked = bool(env.get(var, "").strip()) if var == "CHOWN_EXTRA" else yes(var, env.get(var))
            if asked:
                raise UsageError(var, env[var], "only root can do that", "start the container as root (the default)")
    grant_sudo = yes("GRANT_SUDO", env.get("GRANT_SUDO"))
    if grant_sudo and not in_image():
        # Host mode: this machine's own sudoers are not deepdocker's to write.
        raise UsageError("GRANT_SUDO", env["GRANT_SUDO"], "only in deepdocker's image", "no (host mode)")
    if grant_sudo and not shutil.which("sudo", path="/usr/bin:/bin"):
        raise UsageError("GRANT_SUDO", env["GRANT_SUDO"], "sudo is not installed", "no, or an image with sudo")
    if grant_sudo and os.statvfs("/etc").f_flag & os.ST_RDONLY:
        raise UsageError("GRANT_SUDO", env["GRANT_SUDO"], "/etc is read-only", "no, or a writable root file system")
    gen_cert = yes("GEN_CERT", env.get("GEN_CERT"))
    if gen_cert and not shutil.which("openssl", path="/usr/bin:/bin"):
        raise UsageError("GEN_CERT", env["GEN_CERT"], "openssl is not installed", "no, or an image with openssl")
    return Stacks(
        umask=parse_umask(env["NB_UMASK"]) if env.get("NB_UMASK") else None,
        grant_sudo=grant_sudo,
        chown_home=yes("CHOWN_HOME", env.get("CHOWN_HOME")),
        chown_home_recursive=parse_opts("CHOWN_HOME_OPTS", env.get("CHOWN_HOME_OPTS")),
        chown_extra=parse_folders("CHOWN_EXTRA", env.get("CHOWN_EXTRA", "")),
        chown_extra_recursive=parse_opts("CHOWN_EXTRA_OPTS", env.get("CHOWN_EXTRA_OPTS")),
        gen_cert=gen_cert,
        unset=parse_unset(env.get("JUPYTER_ENV_VARS_TO_UNSET", "")),
        restartable=yes("RESTARTABLE", env.get("RESTARTABLE")),
    )


def chown_tree(path: str, uid: int, gid: int, recursive: bool) -> None:
    """chown [-R] without following a link, and not into other mounts below `path`."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, gid)
    finally:
        os.close(fd)
    if not recursive:
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(root, d))]
        for item in (*dirs, *files):
            os.lchown(os.path.join(root, item), uid, gid)


# sudo's own PATH for the notebook user (docker-stacks puts its environment first there too, so that
# `sudo jupyter ...` and `sudo pip install ...` find the image's): the image's environment, which
# only root writes, then Debian's secure_path.
IMAGE_BIN = "/opt/venv/bin"
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sudo_path() -> str:
    from ..accounts.users import root_only

    return f"{IMAGE_BIN}:{SECURE_PATH}" if root_only(IMAGE_BIN) else SECURE_PATH


def write_sudoers(name: str) -> None:
    """NOPASSWD sudo for the notebook user, with the image's environment on sudo's PATH; written
    whole, never through a link."""
    folder = os.path.dirname(SUDOERS)
    os.makedirs(folder, mode=0o750, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".deepdocker-")  # sudo skips names with a dot
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o440)
        f.write(f'Defaults:{name} secure_path="{sudo_path()}"\n{name} ALL=(ALL:ALL) NOPASSWD:ALL\n')
    os.replace(tmp, SUDOERS)


def in_image() -> bool:
    from ..accounts.users import IMAGE_USER_FILE

    return os.path.exists(IMAGE_USER_FILE)


def remove_sudoers() -> None:
    if in_image() and os.path.lexists(SUDOERS):
        os.unlink(SUDOERS)


def command_words(args: list[str]) -> list[str]:
    """`start.sh CMD...` is CMD (start.sh alone: the default start)."""
    while args and os.path.basename(args[0]) == "start.sh":
        args = args[1:]
    return args
