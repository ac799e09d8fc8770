"""DEEPDOCKER_RUN_DIR and its default, shared by every deepdocker command."""

import os


def run_dir(env=os.environ) -> str:
    explicit = env.get("DEEPDOCKER_RUN_DIR")
    if explicit:
        return explicit
    if os.geteuid() == 0:
        return "/run/deepdocker"
    xdg = env.get("XDG_RUNTIME_DIR")
    return f"{xdg}/deepdocker" if xdg else f"/tmp/deepdocker-{os.getuid()}"


STATE_FILE = "services.tsv"
