"""docker-stacks' start-up lines, which people and tools grep the logs for: `Entered start.sh with
args: ...` when the start begins; what it changed of the image's account (`Updated the jovyan
user:`, `- username: jovyan       -> NEW`, `Update NEW's UID:GID to ...`); and, once the account,
folders and hooks are done, `Running as NB_USER: ...` (a root start that hands over),
`Executing the command: ...` and, for the Jupyter server, start-notebook.py's `Executing: ...`.
On stderr, as there; JUPYTER_DOCKER_STACKS_QUIET keeps them back."""

from __future__ import annotations

from collections.abc import Mapping

from ..core.model import Account, Settings


def quiet(env: Mapping[str, str]) -> bool:
    return bool(env.get("JUPYTER_DOCKER_STACKS_QUIET"))


def what_runs(settings: Settings, command: list[str]) -> list[str]:
    """The command, or the server the start runs in its place: the supervised Jupyter (as
    docker-stacks' start-notebook names it) or, without Jupyter, supervisord and its services."""
    if command:
        return command
    if settings.get("jupyter") is None:
        return ["supervisord", *settings.names]
    jupyter = settings.own.get("jupyter", {})
    # The server as the start asked for it (JupyterRequest.program); none asked: docker-stacks' default.
    program = "jupyterhub-singleuser" if settings.hub else jupyter.get("program") or "jupyter lab"
    return [*program.split(), *jupyter.get("options", ())]


def entered(words: list[str], settings: Settings, command: list[str]) -> str:
    """`words`: the start's arguments, less a leading start.sh; none: what the default start runs."""
    return "Entered start.sh with args: " + " ".join(words or what_runs(settings, command))


def handing_over(settings: Settings, command: list[str]) -> list[str]:
    """Whom the start hands over to, what it runs, and, where that is the Jupyter server, the line
    docker-stacks' start-notebook.py and start-singleuser.py write last (`Executing: jupyter lab`)."""
    runs = " ".join(what_runs(settings, command))
    lines = [f"Running as {settings.nb_user}: {runs}"] if settings.is_root else []
    server = [f"Executing: {runs}"] if not command and settings.get("jupyter") is not None else []
    return [*lines, f"Executing the command: {runs}", *server]


def account_changes(account: Account) -> list[str]:
    """What a root start changed of the image's account, as docker-stacks' start.sh words it."""
    lines = []
    if account.rename_from:
        old = account.rename_from
        lines += [f"Updated the {old} user:", f"- username: {old:<12} -> {account.name}",
                  f"- home dir: {'/home/' + old:<12} -> {account.home}"]  # fmt: skip
    if account.remap:
        lines.append(f"Update {account.name}'s UID:GID to {account.uid}:{account.gid}")
    return lines
