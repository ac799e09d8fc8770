"""DEEPDOCKER_RUN_DIR and its default, shared by every deepdocker command."""

import os

from .state import FILE

# The image's run dir: a volume of each container's own (never in a `docker commit`), open like
# /tmp so that a `docker run --user UID` start keeps its state there too, in a folder of its own.
IMAGE_RUN_DIR = "/run/deepdocker"


def run_dir(env=os.environ) -> str:
    explicit = env.get("DEEPDOCKER_RUN_DIR")
    if explicit:
        return explicit
    if os.geteuid() == 0:
        return IMAGE_RUN_DIR
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg:
        return f"{xdg}/deepdocker"
    try:
        shared = os.stat(IMAGE_RUN_DIR).st_mode & 0o1777 == 0o1777
    except OSError:
        shared = False
    return f"{IMAGE_RUN_DIR}/{os.getuid()}" if shared else f"/tmp/deepdocker-{os.getuid()}"


def state_dir(env=os.environ) -> str:
    """Where deepdocker-health looks: the run dir, or, for a user with no start of its own, the
    image's (a root start's: `docker exec -u jovyan`, sudo -u, an SSH session)."""
    own = run_dir(env)
    if env.get("DEEPDOCKER_RUN_DIR") or os.geteuid() == 0 or os.path.exists(f"{own}/{FILE}"):
        return own
    return IMAGE_RUN_DIR if os.path.exists(f"{IMAGE_RUN_DIR}/{FILE}") else own
