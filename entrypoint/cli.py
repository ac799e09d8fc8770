"""deepdocker-entrypoint: validate the environment, prepare, render, then run supervisord.

    deepdocker-entrypoint                  exec supervisord in the foreground (PID 1 in a container)
    deepdocker-entrypoint --print-config   print the rendered supervisord.conf; start and write nothing
    deepdocker-entrypoint CMD [ARG...]     run the services and CMD in the foreground on the terminal;
                                           when CMD ends, stop the services and exit with CMD's status
    deepdocker-entrypoint jupyter notebook|lab|server [OPTION...]
                                           the services, with that Jupyter as the supervised one
    deepdocker-entrypoint start-notebook.py|start-notebook.sh [OPTION...]
                                           the same, docker-stacks' way (DOCKER_STACKS_JUPYTER_CMD,
                                           NOTEBOOK_ARGS); `start.sh CMD` is CMD

Started as root, CMD runs as the notebook user (NB_USER, its UID/GID after any remap, its HOME,
NB_UMASK), never as root unless asked for (NB_USER=root or NB_UID=0). docker-stacks' startup hooks
(/usr/local/bin/start-notebook.d, before-notebook.d) run at every start (entrypoint.hooks).

Bad input: one line on stderr and exit status 2, before anything is written or started.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from . import hooks, hub, services, users
from .command import command_words, jupyter_request
from .paths import Paths
from .prepare import nss_env, prepare, setup_account
from .render import TRUSTED_FALLBACK, render
from .settings import Enabled, Settings, UsageError, from_env

PROG = "deepdocker-entrypoint"


def say(message: str) -> None:
    print(f"deepdocker | {message}", file=sys.stderr, flush=True)


def supervisord_argv(paths: Paths) -> list[str]:
    return [sys.executable, "-m", "entrypoint.supervise", "--nodaemon", "--configuration", str(paths.config)]


def _environment(env: Mapping[str, str], settings: Settings, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """`env` less `drop` and what JUPYTER_ENV_VARS_TO_UNSET names; with nss_wrapper's where needed."""
    unset = {*drop, *settings.stacks.unset, "JUPYTER_ENV_VARS_TO_UNSET"}
    out = {k: v for k, v in env.items() if k not in unset}
    out.update(nss_env(settings))
    return out


def daemon_env(env: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """The daemons' environment: no secret deepdocker read, nothing JUPYTER_ENV_VARS_TO_UNSET names."""
    return _environment(env, settings, services.private_vars())


def command_env(env: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """The command's environment: the user's (secrets included: the command is theirs), less what
    JUPYTER_ENV_VARS_TO_UNSET names, as the notebook user when it runs as one."""
    out = _environment(env, settings)
    # deepdocker-health in the command finds this start's state, whoever runs it.
    out["DEEPDOCKER_RUN_DIR"] = str(settings.run_dir)
    account = settings.account
    # Switched to, or an arbitrary UID whose HOME Docker set to "/": the account's own.
    if (settings.is_root and not account.is_root) or not account.passwd:
        out.update(HOME=settings.nb_home, USER=account.name, LOGNAME=account.name)
    return out


def announce(settings: Settings) -> None:
    say(f"services: {', '.join(settings.names) or 'none'}; run dir {settings.run_dir}")
    if settings.nb_home != settings.account.home:
        say(f"HOME for the notebook daemons: {settings.nb_home} ({settings.account.home} cannot be written)")
    shared = settings.shared
    if shared and shared.action == "adopt":
        say(f"SHARED_DIR: {shared.note}")
    elif shared and shared.action == "warn":
        say(f"WARNING: SHARED_DIR: {shared.note}")
    jupyter = settings.get("jupyter")
    for e in settings.enabled:
        if e.service.notices:
            for line in services.hook(e.service.notices)(settings, e):
                say(line)
    if settings.is_root and settings.account.is_root:
        say("WARNING: NB_USER=root / NB_UID=0: Jupyter, TensorBoard and commands run as root, as asked")
    if settings.stacks.grant_sudo and not settings.account.is_root:
        say(f"GRANT_SUDO: {settings.nb_user} may run any command as root with sudo, without a password")
    login = "the Hub's login" if settings.hub else "Jupyter's login"
    for e in settings.enabled:
        svc, name = e.service, e.service.name
        var = svc.public_var
        for secret in svc.secrets if not svc.notices else ():
            if secret.var in settings.generated:
                say(f"{name}: {secret.var} (generated, shown once): {settings.secret(secret.var)}")
        if svc.auth_off_var and not e.own_login and not settings.hub:
            say(f"WARNING: {svc.auth_off_var}=true: {name} lets ANYONE who reaches it in, with no password")
        if settings.hub and svc.behind_hub:
            say(f"{name}: {settings.jupyter_base_url}{name}/ behind the Hub's login ({name}'s own login off)")
        elif settings.hub and e.own_login and not svc.essential:
            say(
                f"{name}: on because SERVICES names it; it listens on port {e.port} of "
                f"{e.bind or 'every address'}, outside the Hub's login ({svc.summary})"
            )
        if not var:
            continue
        if e.public and not e.own_login:
            say(
                f"WARNING: {var}=true: {name} has no login and listens on {e.bind or 'every address'}, port {e.port}, "
                "for anyone who can reach it"
            )
        elif e.public:
            say(f"{var}=true: {name} listens on {e.bind or 'every address'}, port {e.port}, behind its own login")
        elif jupyter:
            when = ", started by its first request" if e.on_demand else ""
            say(f"{name}: {settings.jupyter_base_url}{name}/ behind {login}{when}")
        else:
            say(f"{name} listens on 127.0.0.1:{e.port} only: it has no login of its own ({var}=true publishes it)")


def configure(env: Mapping[str, str], command: list[str]) -> tuple[Settings, list[str]]:
    """Settings for `env` and what is left of the command once a Jupyter start is taken out of it."""
    request = jupyter_request(command, env)
    # A command asks for Jupyter (enabled if need be); NOTEBOOK_ARGS alone only shape it.
    settings = from_env(request.env(dict(env)) if request and (command or request.hub) else env)
    if request:
        # The command was a Jupyter server: it is the supervised one, not a second one.
        settings = dataclasses.replace(
            settings, jupyter_default_url=request.default_url, jupyter_options=request.options
        )
        command = []
    if request and request.hub:
        settings = hub_mode(settings, request.hub)
    return settings, command


def hub_mode(settings: Settings, hub_settings: hub.Hub) -> Settings:
    """Jupyter as the Hub's single-user server: its program, the Hub's login (no token of ours)."""
    jupyter = settings.get("jupyter")
    assert jupyter is not None  # the request enabled it
    exe = hub.program(jupyter.exe)
    if exe is None:
        raise UsageError(
            "command",
            hub.PROGRAM,
            f"JupyterHub's single-user server is not installed (no {hub.PROGRAM} beside {jupyter.exe})",
            "an image with the jupyterhub package (deepdocker's has it)",
        )
    for e in settings.enabled:
        var = e.service.public_var
        if var and e.public:
            raise UsageError(
                var, "true", "JupyterHub starts this server: its services sit behind the Hub's login", "false or unset"
            )

    def behind_the_hub(e: Enabled) -> Enabled:
        if e is jupyter:
            return dataclasses.replace(e, exe=exe)
        if e.service.behind_hub:
            # Its own login off: on loopback, at PREFIX/<name>/ behind the Hub's (jupyter-server-proxy).
            return dataclasses.replace(e, bind="127.0.0.1", public=False, own_login=False)
        return e

    enabled = tuple(behind_the_hub(e) for e in settings.enabled)
    # The Hub's login replaces the ones made up for this start.
    kept = {var: value for var, value in settings.secrets.items() if var not in settings.generated}
    return dataclasses.replace(settings, enabled=enabled, hub=hub_settings, secrets=kept, generated=())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    preview = args[:1] == ["--print-config"]
    env = dict(os.environ)
    try:
        settings, command = configure(env, [] if preview else command_words(args))
        if preview:
            sys.stdout.write(render(settings))
            return 0
        if settings.is_root:
            # From here on this process's own programs (the hooks' commands, usermod, ssh-keygen,
            # openssl) come from root's folders alone; the daemons and the command still get the
            # PATH they were given.
            os.environ["PATH"] = users.trusted_path(env.get("PATH")) or TRUSTED_FALLBACK
        if hooks.present(hooks.START):
            env = hooks.run(hooks.START, env)
            settings, command = configure(env, command_words(args))
        setup_account(settings)
        if hooks.present(hooks.BEFORE):
            first = settings
            env = hooks.run(hooks.BEFORE, env)
            settings, command = configure(env, command_words(args))
            settings = dataclasses.replace(settings, shared=first.shared)
        text = render(settings)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except hooks.HookEnded as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return e.status or 1

    paths = prepare(settings, text)
    announce(settings)
    argv_sup = supervisord_argv(paths)
    env_sup = daemon_env(env, settings)
    if not command:
        # supervisord becomes this process (PID 1 in a container): its signal handling
        # and child reaping apply directly.
        os.execve(argv_sup[0], argv_sup, env_sup)
    runner = CommandRunner(command, command_env(env, settings), settings)
    return run_with_command(argv_sup, env_sup, runner, log=paths.daemons_log if sys.stdin.isatty() else None)


class CommandRunner:
    """Starts the command: as the notebook user when started as root (its groups, its umask)."""

    def __init__(self, argv: list[str], env: dict[str, str], settings: Settings) -> None:
        self.argv, self.env = argv, env
        self.switch: dict = {}
        if settings.is_root and not settings.account.is_root:
            account = settings.account
            self.switch = {"user": account.uid, "group": account.gid, "extra_groups": users.groups(account)}
        if settings.stacks.umask is not None:
            self.switch["umask"] = settings.stacks.umask

    def start(self) -> int:
        import subprocess

        # The Popen object is kept: its pid is reaped by run_with_command's waitpid(-1).
        self.proc = subprocess.Popen(self.argv, env=self.env, close_fds=False, **self.switch)
        return self.proc.pid


# After SIGTERM, the seconds a command has before SIGHUP (an interactive shell ignores SIGTERM,
# and leaves on a hang-up, as when its terminal goes), then before SIGKILL.
STOP_GRACE = 1.0
# A supervisord that dies sooner than this after its start is started again only after a pause.
RESPAWN_PAUSE = 1.0
# Killed this many times in a row, each within QUICK_DEATH seconds of its start: not started again.
QUICK_DEATH = 10.0
QUICK_DEATHS = 3


def run_with_command(argv_sup: list[str], env: dict[str, str], command: CommandRunner, log: Path | None = None) -> int:
    """supervisord in the background, `command` in the foreground; this process reaps all.

    supervisord's and the daemons' lines go to stderr, or, when a person types at a terminal
    (`docker run -it ... bash`), to `log`, so that they do not print over the prompt.
    """
    if log is None:
        out = 2
    else:
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        if "user" in command.switch:  # the person at the terminal is the notebook user: theirs to read
            os.fchown(out, command.switch["user"], command.switch["group"])
        say(f"the daemons' logs: {log} (tail -f {log}); their state: deepdocker-health")
    sup = Supervisord(argv_sup, env, out)
    try:
        cmd_pid = command.start()
    except OSError as e:
        print(f"{PROG}: cannot run {command.argv[0]!r}: {e.strerror}", file=sys.stderr)
        sup.stop()
        return 127

    escalation = [signal.SIGHUP, signal.SIGKILL]

    def forward(signum: int, _frame: object) -> None:
        sup.stopping = True
        for pid in (cmd_pid, sup.pid):
            _kill(pid, signum)
        if signum == signal.SIGTERM:
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE)

    def escalate(_signum: int, _frame: object) -> None:
        if escalation:
            _kill(cmd_pid, escalation.pop(0))
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    signal.signal(signal.SIGALRM, escalate)
    # The terminal's Ctrl-C goes to the foreground command; this process waits it out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    sup_status = 0
    while True:
        pid, status = _wait_any()
        if pid in (cmd_pid, -1):
            break
        # Killed from outside, its daemons are unsupervised: start it again. Ended by itself
        # (DEEPDOCKER_ON_FATAL=exit), or killed again and again: so does the command.
        if pid == sup.pid and not sup.stopping and not (os.WIFSIGNALED(status) and sup.died(status)):
            sup.stopping, sup.pid = True, -1
            sup_status = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
            forward(signal.SIGTERM, None)
    signal.setitimer(signal.ITIMER_REAL, 0)
    sup.stop()
    if status < 0:
        return 1
    code = os.waitstatus_to_exitcode(status)
    return sup_status or (128 - code if code < 0 else code)  # killed by signal N: 128+N, as shells do


class Supervisord:
    """supervisord in a session of its own (Ctrl-C on the terminal reaches the command, not the
    daemons), started again if it dies while the command runs, its orphaned daemons first stopped."""

    def __init__(self, argv: list[str], env: dict[str, str], out: int) -> None:
        self.argv, self.env, self.out = argv, env, out
        # True once asked to stop, or once it stopped by itself: not started again.
        self.stopping = False
        self.quick_deaths = 0
        self.start()

    def start(self) -> None:
        self.started = time.monotonic()
        # Its log lines and the daemons' go to `out` (stderr or the log file), never to stdout:
        # the command's stdout carries the command's output alone (`docker run ... CMD > file`).
        dup = [(os.POSIX_SPAWN_DUP2, self.out, 1), (os.POSIX_SPAWN_DUP2, self.out, 2)]
        self.pid = os.posix_spawn(self.argv[0], self.argv, self.env, setsid=True, file_actions=dup)

    def died(self, status: int) -> bool:
        """It was killed: stop the daemons it left, and start it again unless that keeps
        happening right after its start. Whether it was started again."""
        lived = time.monotonic() - self.started
        self.quick_deaths = self.quick_deaths + 1 if lived < QUICK_DEATH else 0
        _stop_session(self.pid)
        if self.quick_deaths >= QUICK_DEATHS:
            say(f"supervisord ended ({_describe(status)}) {self.quick_deaths} times within seconds: giving up")
            return False
        say(f"supervisord ended ({_describe(status)}): stopping the daemons it left and starting it again")
        if lived < RESPAWN_PAUSE:
            time.sleep(RESPAWN_PAUSE)
        self.start()
        return True

    def stop(self) -> None:
        if self.pid < 0 or _sid(self.pid) is None:
            return  # already ended and reaped
        _kill(self.pid, signal.SIGTERM)
        while True:
            pid, _ = _wait_any()
            if pid in (self.pid, -1):
                return


def _kill(pid: int, signum: int) -> None:
    if pid <= 0:  # never -1 (every process) or 0 (our group): a child that is gone
        return
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait_any() -> tuple[int, int]:
    """Reap any child (as PID 1, orphans land here): (pid, status), or (-1, -1) when none is left."""
    try:
        return os.waitpid(-1, 0)
    except ChildProcessError:
        return -1, -1


def _describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


def _stop_session(sid: int) -> None:
    """SIGTERM, then SIGKILL, to every process left in session `sid` (supervisord's daemons)."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        left = [pid for pid in _pids() if _sid(pid) == sid]
        for pid in left:
            _kill(pid, signum)
        deadline = time.monotonic() + STOP_GRACE
        while left and time.monotonic() < deadline:
            _reap_nohang()
            left = [pid for pid in left if _sid(pid) == sid]
            time.sleep(0.02)
        if not left:
            return


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]


def _sid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return None if fields[0] == b"Z" else int(fields[3])  # state, ppid, pgrp, session
    except (OSError, IndexError, ValueError):
        return None


def _reap_nohang() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


if __name__ == "__main__":
    sys.exit(main())
