"""nss_wrapper: an account the image's /etc does not hold (an arbitrary `docker run --user` UID, or
a rename/remap on a read-only /etc), served to every daemon from files in the run dir; and the
environment a program gets to run as the notebook user."""

from __future__ import annotations

import glob

from ..core.model import Settings
from ..core.paths import Paths
from . import users

# What root's own programs are found on: folders only root can write.
TRUSTED_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def nss_library() -> str | None:
    """nss_wrapper's library, where installed (the image has it: Debian's libnss-wrapper)."""
    found = sorted(glob.glob("/usr/lib/*/libnss_wrapper.so") + glob.glob("/usr/lib/libnss_wrapper.so"))
    return found[0] if found else None


def nss_env(settings: Settings) -> dict[str, str]:
    """For a UID with no passwd entry (it borrows NB_USER's), or an account renamed or remapped on
    a read-only /etc: nss_wrapper serves the entry to every daemon (whoami, ~, ssh, supervisord)."""
    account = settings.account
    library = nss_library()
    if (account.passwd and not account.nss) or library is None:
        return {}
    paths = Paths(settings.run_dir)
    group = str(paths.group) if account.nss else "/etc/group"
    return {"LD_PRELOAD": library, "NSS_WRAPPER_PASSWD": str(paths.passwd), "NSS_WRAPPER_GROUP": group}


def as_notebook_user(settings: Settings) -> dict:
    """subprocess.run's arguments that run a program as the notebook user (when started as root),
    with an environment of its own: the user's home, and a PATH of root's folders only."""
    account = settings.account
    env = {"PATH": TRUSTED_PATH, "HOME": settings.nb_home, "LANG": "C.UTF-8", **nss_env(settings)}
    if not settings.is_root or account.is_root:
        return {"env": env}
    return {"env": env, "user": account.uid, "group": account.gid, "extra_groups": users.groups(account)}
