"""Validated Settings -> the files supervisord and the daemons need. Runs after validation.

Everything goes under DEEPDOCKER_RUN_DIR (and SSH_HOST_KEY_DIR); nothing of the host's
own configuration is touched. Files are written whole (core.files). The folders the notebook
user owns are made afresh at every start, so nothing it left there (a link, a file of an old
UID) can get in the way of the next one. Each service's own files are its preparer's.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from healthchecks import state as health_state

from .accounts import nss, users
from .core.files import chown, fresh_dir, make_dir, write_file
from .core.model import Settings
from .core.paths import Paths
from .stacks import options as stacks


def state(settings: Settings) -> str:
    """What deepdocker-health reads (healthchecks.state): supervisord's socket, how to probe each
    service, the notes a person should know, and the services the liveness view looks at
    (Service.essential; none: all of them)."""
    services = {}
    for e in settings.enabled:
        probe = e.service.probe
        kind = "https" if probe.kind == "http" and e.service.tls and settings.stacks.gen_cert else probe.kind
        if probe.kind == "http":
            base = settings.jupyter_base_url if e.service.under_base_url else "/"
            target = probe.path if probe.path.startswith("/") else base + probe.path
        else:
            target = "-"
        start = "on-demand" if e.on_demand else "now"
        services[e.service.name] = health_state.ServiceState(
            e.service.name, kind, e.local_address, e.port, target, start
        )
    notes = [f"SHARED_DIR: {settings.shared.note}"] if settings.shared and settings.shared.action == "warn" else []
    notes += settings.notes
    paths = Paths(settings.run_dir)
    logins = []
    for e in settings.enabled:
        login = e.service.login_url(settings, e, paths) if e.service.login_url else None
        if login:
            logins.append((e.service.name, *login))
    account = settings.account
    user = (account.name, account.uid, account.gid, settings.nb_home)
    liveness = {e.service.name: e.service.liveness for e in settings.enabled if e.service.liveness}
    state = health_state.State(
        str(paths.socket), services, notes, list(settings.essential), logins, user, liveness, settings.user_layer
    )
    return health_state.dumps(state)


def make_wake_fifos(settings: Settings, paths: Paths) -> None:
    """The notebook user's folder of wake FIFOs, made afresh at every start (no service counts as
    woken from an earlier one): one FIFO for each on-demand service, which waits on it."""
    fresh_dir(paths.wake, 0o700)
    for e in settings.enabled:
        if e.on_demand:
            os.mkfifo(paths.wake_fifo(e.service.name), 0o600)
            os.chmod(paths.wake_fifo(e.service.name), 0o600)
            if settings.is_root:
                os.chown(paths.wake_fifo(e.service.name), settings.account.uid, settings.account.gid)
    if settings.is_root:
        os.chown(paths.wake, settings.account.uid, settings.account.gid)


def hand_over_secrets(settings: Settings, paths: Paths) -> None:
    """The secrets a daemon reads from a file (services.Secret.in_file), in a folder of its own made
    afresh at every start, readable by the daemon's user alone; none left from an earlier start."""
    folder = paths.run_dir / "secrets"
    fresh_dir(folder, 0o711)
    for e in settings.enabled:
        secrets = [s for s in e.service.secrets if s.in_file and e.own_login and settings.secret(s.var)]
        if not secrets:
            continue
        own = folder / e.service.name
        own.mkdir(0o700)
        for secret in secrets:
            write_file(
                paths.secret(e, secret.var),
                settings.secret(secret.var),
                0o600,
                settings.ids(e.user) if e.user else None,
            )
        if e.user:
            chown(own, settings.ids(e.user))


def setup_account(settings: Settings) -> Settings:
    """The notebook account as asked (root only): renamed, remapped, sudo, CHOWN_HOME/CHOWN_EXTRA;
    and the empty shared folder Docker made, handed over."""
    if settings.is_root:
        account, opts = settings.account, settings.stacks
        users.apply(account)
        if opts.grant_sudo and not account.is_root:
            stacks.write_sudoers(account.name)
        else:
            stacks.remove_sudoers()  # a restarted container without GRANT_SUDO has none
        if opts.chown_home:
            stacks.chown_tree(users.home_folder(account), account.uid, account.gid, opts.chown_home_recursive)
        for folder in opts.chown_extra:
            stacks.chown_tree(folder, account.uid, account.gid, opts.chown_extra_recursive)
    if settings.shared and settings.shared.action == "adopt":
        return dataclasses.replace(settings, shared=users.adopt(settings.shared, settings.account))
    return settings


def prepare(settings: Settings, config_text: str) -> Paths:
    paths = Paths(settings.run_dir)
    # 0711: daemons running as the notebook user reach their own subfolder, list nothing.
    make_dir(paths.run_dir, 0o711)
    if settings.nb_home.startswith(str(paths.run_dir)):
        # The notebook user's home when its own cannot be written (--read-only, an arbitrary UID).
        make_dir(Path(settings.nb_home), 0o700)
        os.chown(settings.nb_home, settings.account.uid, settings.account.gid)
    if nss.nss_env(settings):
        write_file(paths.passwd, users.nss_passwd(settings.account), 0o644)
        if settings.account.nss:
            write_file(paths.group, users.nss_group(settings.account), 0o644)
    if any(e.on_demand for e in settings.enabled):
        make_wake_fifos(settings, paths)
    hand_over_secrets(settings, paths)
    for e in settings.enabled:
        if e.service.preparer:
            e.service.preparer(settings, e, paths)
    write_file(paths.state, state(settings), 0o644)
    # It may one day hold secrets: readable by its owner alone.
    write_file(paths.config, config_text, 0o600)
    return paths
