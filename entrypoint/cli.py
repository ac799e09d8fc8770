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
(/usr/local/bin/start-notebook.d, before-notebook.d) run at every start (entrypoint.stacks.hooks).

Bad input: one line on stderr and exit status 2, before anything is written or started.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping

from . import frameworks, services, userlayer
from .accounts import nss, users
from .command_mode import PROG, CommandRunner, run_with_command, say
from .core.errors import UsageError
from .core.model import Settings
from .core.paths import Paths
from .prepare import prepare, setup_account
from .render import TRUSTED_FALLBACK, render
from .services import REGISTRY
from .settings import from_env
from .stacks import hooks, messages
from .stacks.options import command_words


def supervisord_argv(paths: Paths) -> list[str]:
    return [sys.executable, "-m", "deepdocker_supervisor.supervise", "--nodaemon", "--configuration", str(paths.config)]


def _environment(env: Mapping[str, str], settings: Settings, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """`env` less `drop` and what JUPYTER_ENV_VARS_TO_UNSET names; with nss_wrapper's where needed."""
    unset = {*drop, *settings.stacks.unset, "JUPYTER_ENV_VARS_TO_UNSET"}
    out = {k: v for k, v in env.items() if k not in unset}
    out.update(nss.nss_env(settings))
    if settings.user_layer:
        out.update(userlayer.environment(settings.user_layer, out))
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
    for note in settings.notes:
        say(f"WARNING: {note}")
    jupyter = settings.get("jupyter")
    for e in settings.enabled:
        if e.service.notices:
            for line in e.service.notices(settings, e):
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
    """Settings for `env` and what is left of the command once a front door's start (Jupyter's:
    `jupyter notebook ...`, start-notebook.py, a Hub's start) is taken out of it."""
    request = next((r for s in REGISTRY.values() if s.front_door and (r := s.front_door(command, env))), None)
    # A command asks for the server (enabled if need be); NOTEBOOK_ARGS alone only shape it.
    if request:
        env = request.env(dict(env)) if command or request.whole else request.shape(env)
    settings = from_env(env)
    if request:
        # The command was the front door's server: it is the supervised one, not a second one.
        settings, command = request.apply(settings), []
    return settings, command


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
        if not messages.quiet(env):
            say(messages.entered(command_words(args), settings, command))
        if settings.is_root:
            # From here on this process's own programs (the hooks' commands, usermod, ssh-keygen,
            # openssl) come from root's folders alone; the daemons and the command still get the
            # PATH they were given.
            os.environ["PATH"] = users.trusted_path(env.get("PATH")) or TRUSTED_FALLBACK
        if hooks.present(hooks.START):
            env = hooks.run(hooks.START, env)
            settings, command = configure(env, command_words(args))
        settings = setup_account(settings)
        if not messages.quiet(env):
            for line in messages.account_changes(settings.account):
                say(line)
        if cpu := frameworks.note(settings):
            settings = dataclasses.replace(settings, notes=(*settings.notes, cpu))
        if hooks.present(hooks.BEFORE):
            first = settings
            env = hooks.run(hooks.BEFORE, env)
            settings, command = configure(env, command_words(args))
            settings = dataclasses.replace(settings, shared=first.shared, notes=first.notes)
        settings = userlayer.attach(settings, env)
        text = render(settings)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except hooks.HookEnded as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return e.status or 1

    paths = prepare(settings, text)
    announce(settings)
    if not messages.quiet(env):
        for line in messages.handing_over(settings, command):
            say(line)
    argv_sup = supervisord_argv(paths)
    env_sup = daemon_env(env, settings)
    if not command:
        # supervisord becomes this process (PID 1 in a container): its signal handling
        # and child reaping apply directly.
        os.execve(argv_sup[0], argv_sup, env_sup)
    runner = CommandRunner(command, command_env(env, settings), settings)
    return run_with_command(argv_sup, env_sup, runner, log=paths.daemons_log if sys.stdin.isatty() else None)
