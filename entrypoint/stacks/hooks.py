"""docker-stacks' startup hooks: /usr/local/bin/start-notebook.d and before-notebook.d.

As docker-stacks' run-hooks does: each entry in name order; a `*.sh` file is sourced (so the
variables it exports reach the rest of the start), any other executable is run, anything else is
skipped with a line. A hook that fails is reported and the start goes on; one that ends the
shell it was sourced in (`exit`) ends the start with its status. start-notebook.d runs before the
notebook user is set up, before-notebook.d after (both as the user deepdocker started as). Their
output goes to stderr, so a command's stdout stays its own. An empty or missing folder costs
nothing: no shell is started.
"""

from __future__ import annotations

import os
import subprocess

START = "/usr/local/bin/start-notebook.d"
BEFORE = "/usr/local/bin/before-notebook.d"

# The hooks run by the same file the image gives as /usr/local/bin/run-hooks.sh, and the
# environment they leave comes back through the pipe on fd $2.
RUN_HOOKS = os.path.join(os.path.dirname(__file__), "run-hooks.sh")
_SCRIPT = 'source "$0" "$1" || exit 1; env -0 >&"$2"'
# Set by bash itself, not by a hook.
_SHELL_VARS = ("_", "SHLVL", "OLDPWD", "PWD")


class HookEnded(Exception):
    def __init__(self, folder: str, status: int) -> None:
        super().__init__(f"a hook in {folder} ended the start (status {status})")
        self.status = status


def present(folder: str) -> bool:
    try:
        return any(True for _ in os.scandir(folder))
    except OSError:
        return False


def run(folder: str, env: dict[str, str]) -> dict[str, str]:
    """The environment after the hooks in `folder` ran in it (`env` itself when there are none)."""
    if not present(folder):
        return env
    # Run as root, the hooks find their commands in root's folders alone (os.environ's PATH, set so
    # by the entrypoint); a PATH they leave as it was is the one they were given.
    given = env.get("PATH")
    run_env = {**env, "PATH": os.environ.get("PATH", "")} if os.geteuid() == 0 and given is not None else env
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(
            ["/bin/bash", "-c", _SCRIPT, RUN_HOOKS, folder, str(w)],
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=2,
            pass_fds=(w,),
        )
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    status = proc.wait()
    if status != 0 or not data:
        raise HookEnded(folder, status)
    after = {}
    for item in data.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key:
            after[os.fsdecode(key)] = os.fsdecode(value)
    for var in _SHELL_VARS:
        if var not in env:
            after.pop(var, None)
        else:
            after[var] = env[var]
    if given is not None and after.get("PATH") == run_env["PATH"]:
        after["PATH"] = given
    return after
