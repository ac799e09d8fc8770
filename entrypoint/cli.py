"""deepdocker-entrypoint: validate the environment, prepare, render, then run supervisord.

    deepdocker-entrypoint                  exec supervisord in the foreground (PID 1 in a container)
    deepdocker-entrypoint --print-config   print the rendered supervisord.conf; start and write nothing
    deepdocker-entrypoint CMD [ARG...]     run the services and CMD in the foreground on the terminal;
                                           when CMD ends, stop the services and exit with CMD's status

Bad input: one line on stderr and exit status 2, before anything is written or started.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping

from .paths import Paths
from .prepare import prepare, probe_host
from .render import render
from .settings import Settings, UsageError, from_env

PROG = "deepdocker-entrypoint"
# Read by the entrypoint, kept from the daemons' environment.
SECRET_VARS = (
    "JUPYTER_TOKEN",
    "JUPYTER_TOKEN_FILE",
    "JUPYTER_PASSWORD",
    "JUPYTER_PASSWORD_FILE",
    "PASSWORD",
    "PASSWORD_FILE",
    "SSH_AUTHORIZED_KEYS",
)


def say(message: str) -> None:
    print(f"deepdocker | {message}", file=sys.stderr, flush=True)


def supervisord_argv(paths: Paths) -> list[str]:
    return [sys.executable, "-m", "entrypoint.supervise", "--nodaemon", "--configuration", str(paths.config)]


def daemon_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in SECRET_VARS}


def announce(settings: Settings) -> None:
    say(f"services: {', '.join(settings.names) or 'none'}; run dir {settings.run_dir}")
    jupyter = settings.get("jupyter")
    if jupyter and settings.token_generated:
        # Shown once, here; JUPYTER_TOKEN or JUPYTER_TOKEN_FILE choose a fixed one.
        host = probe_host(settings.bind)
        say(
            f"Jupyter token (generated, shown once): {settings.jupyter_token}  "
            f"http://{host}:{jupyter.port}{settings.jupyter_base_url}lab?token={settings.jupyter_token}"
        )
    for e in settings.enabled:
        var, name = e.service.public_var, e.service.name
        if not var:
            continue
        if e.public:
            say(
                f"WARNING: {var}=true: {name} has no login and listens on {e.bind}:{e.port} for anyone who can reach it"
            )
        elif jupyter:
            say(f"{name}: {settings.jupyter_base_url}{name}/ behind Jupyter's login")
        else:
            say(f"{name} listens on 127.0.0.1:{e.port} only: it has no login of its own ({var}=true publishes it)")
    if settings.get("rstudio"):
        if settings.disable_auth:
            say("WARNING: DISABLE_AUTH=true: RStudio Server lets ANYONE who reaches it in, with no password")
        elif settings.rstudio_password_generated:
            say(f"RStudio login {settings.nb_user}, password (generated, shown once): {settings.rstudio_password}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    try:
        settings = from_env(os.environ)
        text = render(settings)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    if args[:1] == ["--print-config"]:
        sys.stdout.write(text)
        return 0

    paths = prepare(settings, text)
    announce(settings)
    argv_sup = supervisord_argv(paths)
    env = daemon_env(os.environ)
    if not args:
        # supervisord becomes this process (PID 1 in a container): its signal handling
        # and child reaping apply directly.
        os.execve(argv_sup[0], argv_sup, env)
    return run_with_command(argv_sup, env, args)


def run_with_command(argv_sup: list[str], env: dict[str, str], command: list[str]) -> int:
    """supervisord in the background, `command` in the foreground; this process reaps all."""
    # A session of its own: Ctrl-C on the terminal reaches the command, not the daemons.
    sup_pid = os.posix_spawn(argv_sup[0], argv_sup, env, setsid=True)
    try:
        cmd_pid = os.posix_spawnp(command[0], command, dict(os.environ))
    except OSError as e:
        print(f"{PROG}: cannot run {command[0]!r}: {e.strerror}", file=sys.stderr)
        stop_and_reap(sup_pid)
        return 127

    def forward(signum: int, _frame: object) -> None:
        for pid in (cmd_pid, sup_pid):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    # The terminal's Ctrl-C goes to the foreground command; this process waits it out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    status = reap_until(cmd_pid)
    stop_and_reap(sup_pid)
    if status < 0:
        return 1
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by signal N: 128+N, as shells do


def reap_until(target: int) -> int:
    """Reap every child (we may be PID 1: orphans land here) until `target` exits."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return -1
        if pid == target:
            return status


def stop_and_reap(sup_pid: int) -> None:
    try:
        os.kill(sup_pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    reap_until(sup_pid)


if __name__ == "__main__":
    sys.exit(main())
