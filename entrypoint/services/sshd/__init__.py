"""sshd: OpenSSH, key login only, for the notebook user alone (runs as root; switches per login)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...accounts import users
from ...core import values
from ...core.errors import UsageError
from ...core.files import check_folder, make_dir, write_file
from ...core.model import Context, Enabled, Probe, Service, Settings
from ...core.paths import Paths
from .keys import key_problem

# OpenSSH's privilege-separation folder (Debian's build), made at start when sshd runs as root.
SSHD_PRIVSEP = "/run/sshd"


@dataclass(frozen=True)
class Files:
    """sshd's own files in the run dir."""

    paths: Paths

    @property
    def config(self) -> Path:
        return self.paths.run_dir / "sshd_config"

    @property
    def authorized_keys(self) -> Path:
        return self.paths.run_dir / "authorized_keys"


def parse_authorized_keys(raw: str) -> str:
    for number, line in enumerate(raw.splitlines(), 1):
        problem = key_problem(line)
        if problem:
            raise UsageError(
                "SSH_AUTHORIZED_KEYS", raw[:60], f"line {number}: {problem}", "OpenSSH public keys, one per line"
            )
    return raw


def own_settings(env: Mapping[str, str], context: Context) -> dict[str, Any]:
    default = str(context.run_dir / "sshd")
    host_key_dir = Path(values.plain_path("SSH_HOST_KEY_DIR", env.get("SSH_HOST_KEY_DIR") or default))
    check_folder("SSH_HOST_KEY_DIR", host_key_dir)
    if env.get("SSH_HOST_KEY_DIR"):
        own_key_dir(host_key_dir, context, env)
    keys = parse_authorized_keys(env.get("SSH_AUTHORIZED_KEYS", ""))
    services = env.get("SERVICES", "")
    if context.enabled and not context.is_root and not context.account.passwd:
        uid = context.account.uid
        raise UsageError(
            "SERVICES", services, f"sshd needs an account, and uid {uid} has none", "root, or a uid with a passwd entry"
        )
    if context.enabled:
        # sshd_config's SetEnv: the notebook's PATH in every session.
        values.config("PATH", env.get("PATH", ""), limit=values.MAX_TEXT * 4, what="a PATH")
        privsep_ro = not os.path.isdir(SSHD_PRIVSEP) and users.read_only(os.path.dirname(SSHD_PRIVSEP))
        if context.is_root and privsep_ro:
            accepted = "a writable /run for OpenSSH's /run/sshd (docker run --read-only: add --tmpfs /run)"
            raise UsageError("SERVICES", services, "sshd, with /run read-only", accepted)
    # The notebook's PATH in every SSH session (sshd_config's SetEnv), as the daemons got it.
    return {
        "host_key_dir": host_key_dir,
        "authorized_keys": keys,
        "path": env.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
    }


HOST_KEY = re.compile(r"ssh_host_\w+_key(\.pub)?")


def own_key_dir(folder: Path, context: Context, env: Mapping[str, str]) -> None:
    """SSH_HOST_KEY_DIR names a folder deepdocker makes, or one it made before (or an empty one of its
    user's, a mounted volume): it is made 0700 and holds the host's private key, so never a folder
    others can write or that holds anything else, nor one below a folder the notebook user (or
    anyone but root) can write: the shared folder, the home, /tmp."""
    accepted = "a new folder, or an empty one of deepdocker's user (a volume) holding only sshd's host keys"
    account = context.account
    shared = env.get("SHARED_DIR")
    for var, theirs in (("SHARED_DIR", shared), ("NOTEBOOK_DIR", context.notebook_dir), ("HOME", account.home)):
        # The shared folder may still be root's (made by Docker), until it is handed over.
        if theirs and (folder == Path(theirs) or (var == "SHARED_DIR" and Path(theirs) in folder.parents)):
            raise UsageError("SSH_HOST_KEY_DIR", str(folder), f"the notebook user's folder ({var})", accepted)
    for part in folder.parents:
        if not part.exists():
            continue
        st = part.stat()
        if st.st_uid == 0 and st.st_mode & stat.S_ISVTX:
            continue  # like /tmp: only root may rename or remove root's folder in it
        by_user = not account.is_root and users.writable_by(str(part), account.uid, account.gid)
        if st.st_mode & 0o002 or by_user:
            why = f"{part} can be written by {account.name if by_user else 'everyone'}"
            raise UsageError("SSH_HOST_KEY_DIR", str(folder), why, accepted)
    if not folder.exists():
        return
    st = os.stat(folder)
    if st.st_uid != os.geteuid():
        raise UsageError("SSH_HOST_KEY_DIR", str(folder), f"belongs to uid {st.st_uid}", accepted)
    if st.st_mode & 0o022:
        raise UsageError("SSH_HOST_KEY_DIR", str(folder), "others may write in it", accepted)
    strangers = sorted(n for n in os.listdir(folder) if not HOST_KEY.fullmatch(n))
    if strangers:
        raise UsageError("SSH_HOST_KEY_DIR", str(folder), f"holds other files ({strangers[0]}, ...)", accepted)


def setenv(settings: Settings) -> str:
    """sshd_config's SetEnv: the notebook's PATH, with the user's layer first where there is one."""
    env = {"PATH": settings.own["sshd"]["path"]}
    if settings.user_layer:
        from ... import userlayer

        env.update(userlayer.environment(settings.user_layer, env))
    return "SetEnv " + " ".join(f'"{k}={v}"' for k, v in env.items())


def config(settings: Settings, e: Enabled, paths: Paths) -> str:
    key = settings.own["sshd"]["host_key_dir"] / "ssh_host_ed25519_key"
    lines = [
        f"Port {e.port}",
        # None given: every address, IPv4 and IPv6 (sshd's own default).
        *([f"ListenAddress {settings.bind}"] if settings.bind else []),
        f"HostKey {key}",
        "PidFile none",
        # The user's own ~/.ssh/authorized_keys (a mounted file) and SSH_AUTHORIZED_KEYS.
        f"AuthorizedKeysFile .ssh/authorized_keys {Files(paths).authorized_keys}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin no",
        "UsePAM no",
        f"AllowUsers {settings.nb_user}",
        "PrintMotd no",
        # The notebook's PATH (Python, R, Jupyter) in every session, login shell or not.
        setenv(settings),
        "Subsystem sftp internal-sftp",
    ]
    for line in lines:  # validated in settings; a line break here would be config of its own
        if values.problem(line):
            raise values.UnsafeValue(f"not validated before writing sshd_config: {line!r}")
    return "\n".join(lines) + "\n"


def prepare(settings: Settings, e: Enabled, paths: Paths) -> None:
    key_dir = settings.own["sshd"]["host_key_dir"]
    make_dir(key_dir, 0o700)
    if os.lstat(key_dir).st_uid != os.geteuid():  # made by someone else since it was checked
        raise RuntimeError(f"{key_dir} is not deepdocker's own folder")
    key = key_dir / "ssh_host_ed25519_key"
    if not key.exists():
        # Made at first start, never baked into an image: each container its own identity.
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deepdocker", "-f", str(key)],
            check=True,
            stdin=subprocess.DEVNULL,
        )
    if settings.is_root:
        # OpenSSH's privilege-separation directory; Debian's package expects it.
        make_dir(Path(SSHD_PRIVSEP), 0o755)
    keys = settings.own["sshd"]["authorized_keys"].strip()
    write_file(Files(paths).authorized_keys, keys + "\n" if keys else "", 0o644)
    write_file(Files(paths).config, config(settings, e, paths), 0o600)


SERVICE = Service(
    name="sshd",
    program="sshd",
    port_var="SSHD_PORT",
    default_port=22,
    probe=Probe("listen"),
    runs_as="root",
    search_dirs=("/usr/sbin", "/usr/local/sbin"),
    liveness=None,
    files=Files,
    order=60,
    knobs={
        "SSH_AUTHORIZED_KEYS": (
            "",
            "public keys allowed to log in over SSH (besides the user's `~/.ssh/authorized_keys`)",
        ),
        "SSH_HOST_KEY_DIR": (
            "`$DEEPDOCKER_RUN_DIR/sshd`",
            "where sshd's host key is made at first start; mount a volume here to keep it (an absolute "
            "path of letters, digits and `._/+@~-`)",
        ),
    },
    private_vars=("SSH_AUTHORIZED_KEYS",),
    own_settings=own_settings,
    preparer=prepare,
    summary="OpenSSH, key login only",
    login="public keys only (`SSH_AUTHORIZED_KEYS`, checked at start, or the user's mounted "
    "`~/.ssh/authorized_keys`); no root login, no passwords; only `NB_USER` may log in",
    open_up="add keys; password and root logins cannot be switched on",
)
