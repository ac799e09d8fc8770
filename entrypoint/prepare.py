"""Validated Settings -> the files supervisord and the daemons need. Runs after validation.

Everything goes under DEEPDOCKER_RUN_DIR (and SSH_HOST_KEY_DIR); nothing of the host's
own configuration is touched. Files are written whole: a new file of a random name (never
an existing one, never through a link), then renamed over the old. The folders the notebook
user owns are made afresh at every start, so nothing it left there (a link, a file of an old
UID) can get in the way of the next one.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from healthchecks import state as health_state

from . import jupyter_config_scan, stacks, users, values
from .paths import Paths
from .services import hook
from .settings import (
    SSHD_PRIVSEP,
    Context,
    Enabled,
    Settings,
    UsageError,
    check_folder,
    nss_library,
    parse_authorized_keys,
)

# How long Jupyter's proxy holds a first request to an on-demand service while it starts
# (TensorBoard needs ~3 s alone, ~30 s with 8 containers starting on 2 cores).
WAKE_TIMEOUT = 60


def write_file(path: Path, text: str, mode: int, owner: str | None = None, group: int | None = None) -> None:
    """`text` at `path`, whole; owned by `owner` (a user name) or, with `group` alone, root's and that group's."""
    # mkstemp: O_CREAT | O_EXCL under a random name, so nothing planted is opened.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), mode)
            if owner:
                entry = pwd.getpwnam(owner)
                os.fchown(f.fileno(), entry.pw_uid, entry.pw_gid)
            elif group is not None:
                os.fchown(f.fileno(), -1, group)
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def chown(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def make_dir(path: Path, mode: int, owner: str | None = None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise RuntimeError(f"{path} is not a directory")
    os.chmod(path, mode)
    if owner:
        chown(path, owner)


def fresh_dir(path: Path, mode: int) -> None:
    """An empty folder of this process's own at `path`, whatever was there (a link is removed, not followed)."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)  # removes links as links (Linux: fd-based, no race to follow)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    path.mkdir(mode)
    os.chmod(path, mode)


def probe_host(bind: str) -> str:
    """Where a local probe connects when daemons listen on `bind`."""
    if bind in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind == "::":
        return "::1"
    return bind


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
            e.service.name, kind, probe_host(e.bind), e.port, target, start
        )
    notes = [f"SHARED_DIR: {settings.shared.note}"] if settings.shared and settings.shared.action == "warn" else []
    paths = Paths(settings.run_dir)
    logins = []
    for e in settings.enabled:
        login = hook(e.service.login_url)(settings, e, paths) if e.service.login_url else None
        if login:
            logins.append((e.service.name, *login))
    account = settings.account
    user = (account.name, account.uid, account.gid, settings.nb_home)
    state = health_state.State(str(paths.socket), services, notes, list(settings.essential), logins, user)
    return health_state.dumps(state)


def tensorboard_settings(env: dict, context: Context) -> dict:
    logdir = env.get("TENSORBOARD_LOGDIR") or os.path.join(context.notebook_dir, "logs")
    return {"logdir": values.config("TENSORBOARD_LOGDIR", logdir, what="a folder or URL")}


def sshd_settings(env: dict, context: Context) -> dict:
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


def own_key_dir(folder: Path, context: Context, env: dict) -> None:
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


def sshd_config(settings: Settings, e: Enabled, paths: Paths) -> str:
    key = settings.own["sshd"]["host_key_dir"] / "ssh_host_ed25519_key"
    lines = [
        f"Port {e.port}",
        # None given: every address, IPv4 and IPv6 (sshd's own default).
        *([f"ListenAddress {settings.bind}"] if settings.bind else []),
        f"HostKey {key}",
        "PidFile none",
        # The user's own ~/.ssh/authorized_keys (a mounted file) and SSH_AUTHORIZED_KEYS.
        f"AuthorizedKeysFile .ssh/authorized_keys {paths.authorized_keys}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin no",
        "UsePAM no",
        f"AllowUsers {settings.nb_user}",
        "PrintMotd no",
        # The notebook's PATH (Python, R, Jupyter) in every session, login shell or not.
        f'SetEnv "PATH={settings.own["sshd"]["path"]}"',
        "Subsystem sftp internal-sftp",
    ]
    for line in lines:  # validated in settings; a line break here would be config of its own
        if values.problem(line):
            raise values.UnsafeValue(f"not validated before writing sshd_config: {line!r}")
    return "\n".join(lines) + "\n"


def prepare_sshd(settings: Settings, e: Enabled, paths: Paths) -> None:
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
    write_file(paths.authorized_keys, keys + "\n" if keys else "", 0o644)
    write_file(paths.sshd_config, sshd_config(settings, e, paths), 0o600)


def hash_password(settings: Settings, jupyter_exe: str, password: str) -> str:
    """Jupyter's own argon2 hash, made by the Python that runs Jupyter; the password goes on stdin.
    As the notebook user: root never runs the user's environment (its .pth files, its programs)."""
    with open(jupyter_exe, "rb") as f:
        python = f.readline()[2:].decode().strip()
    code = "import sys; from jupyter_server.auth import passwd; print(passwd(sys.stdin.read()))"
    done = subprocess.run(
        [python, "-c", code], input=password, capture_output=True, text=True, check=True, **as_notebook_user(settings)
    )
    return done.stdout.strip()


def as_notebook_user(settings: Settings) -> dict:
    """subprocess.run's arguments that run a program as the notebook user (when started as root),
    with an environment of its own: the user's home, and a PATH of root's folders only."""
    account = settings.account
    env = {"PATH": TRUSTED_PATH, "HOME": settings.nb_home, "LANG": "C.UTF-8", **nss_env(settings)}
    if not settings.is_root or account.is_root:
        return {"env": env}
    return {"env": env, "user": account.uid, "group": account.gid, "extra_groups": users.groups(account)}


# What root's own programs are found on: folders only root can write.
TRUSTED_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Every trait that decides who gets into Jupyter, pinned in deepdocker's config (read last: it is
# first on JUPYTER_CONFIG_PATH), so that no config the notebook user can write switches the login
# off or widens it. The identity traits are the Hub's in hub mode (jupyterhub-singleuser sets them).
IDENTITY = "jupyter_server.auth.identity.PasswordIdentityProvider"


def login_pins(settings: Settings, e: Enabled, hashed: str) -> dict:
    server: dict = {
        "disable_check_xsrf": False,
        "allow_origin": "",
        "allow_origin_pat": "",
        "allow_credentials": False,
        "allow_unauthenticated_access": True,  # /api (the health probe) and the login page
        "authenticate_prometheus": True,
        "authorizer_class": "jupyter_server.auth.authorizer.AllowAllAuthorizer",
        # What Jupyter decides for the address it listens on (DNS rebinding: a Host check on loopback).
        "allow_remote_access": e.bind not in ("127.0.0.1", "::1"),
        "local_hostnames": ["localhost"],
        "trust_xheaders": bool(settings.hub),
        "password": "",
        "cookie_secret_file": str(Paths(settings.run_dir).jupyter_config.parent / "cookie_secret"),
    }
    provider: dict = {
        "cookie_name": "",
        # No login cookie on a request another site's page makes (a form POST, a fetch): CSRF.
        "cookie_options": {"samesite": "Lax"},
        "get_secure_cookie_kwargs": {},
        "secure_cookie": None,
    }
    pins: dict = {"ServerApp": server}
    if not settings.hub:
        server.update(
            identity_provider_class=IDENTITY,
            login_handler_class="jupyter_server.auth.login.LegacyLoginHandler",
            logout_handler_class="jupyter_server.auth.logout.LogoutHandler",
            password_required=False,
            allow_password_change=False,
        )
        provider.update(
            token=settings.secret("JUPYTER_TOKEN"),
            hashed_password=hashed,
            password_required=False,
            # A password set from the login page would land in a config the user can write.
            allow_password_change=False,
            login_handler_class="jupyter_server.auth.login.LoginFormHandler",
            logout_handler_class="jupyter_server.auth.logout.LogoutHandler",
        )
    # The most specific class names win in traitlets: pin each class a user's config could name.
    for section in ("IdentityProvider", "PasswordIdentityProvider", "LegacyIdentityProvider"):
        pins[section] = dict(provider)
    return pins


def jupyter_config(settings: Settings, e: Enabled) -> dict:
    password = settings.secret("JUPYTER_PASSWORD")
    hashed = hash_password(settings, e.exe, password) if password else ""
    config: dict = login_pins(settings, e, hashed)
    # Services with no login of their own, behind Jupyter's at /<name>/ (jupyter-server-proxy).
    servers = {}
    for other in settings.enabled:
        if not other.proxied:
            continue
        server: dict = {"port": other.port, "absolute_url": False, "launcher_entry": {"title": other.service.summary}}
        if other.on_demand:
            # The proxy runs this before the first request and waits (up to `timeout`) until the
            # port answers; the program, waiting on its FIFO, starts (entrypoint.wake).
            wake = Paths(settings.run_dir).wake_fifo(other.service.name)
            server["command"] = [sys.executable, "-I", "-m", "entrypoint.wake", str(wake), other.service.name]
            server["timeout"] = WAKE_TIMEOUT
        servers[other.service.name] = server
    if servers:
        config["ServerProxy"] = {"servers": servers}
    return config


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


def prepare_jupyter(settings: Settings, e: Enabled, paths: Paths) -> None:
    """Jupyter's folder: its runtime folder the notebook user's; its login (token, password hash,
    cookie secret, the pinned login settings, the guard) root's, readable by the user's group,
    written afresh at every start. Nothing the notebook user can write decides who gets in."""
    fresh_dir(paths.jupyter_dir, 0o711 if e.user else 0o700)
    config_dir = paths.jupyter_config.parent
    paths.jupyter_runtime.mkdir(0o700)
    config_dir.mkdir(0o750 if e.user else 0o700)
    group = settings.account.gid if e.user else None
    secret = 0o640 if e.user else 0o600
    # Read through JUPYTER_TOKEN_FILE and JUPYTER_CONFIG_PATH: no secret in argv or supervisord.conf.
    write_file(paths.jupyter_token, settings.secret("JUPYTER_TOKEN"), secret, group=group)
    write_file(config_dir / "cookie_secret", secrets.token_hex(32), secret, group=group)
    write_file(paths.jupyter_config, json.dumps(jupyter_config(settings, e), indent=1), secret, group=group)
    guard = importlib.resources.files("entrypoint").joinpath("jupyter_guard.py").read_text()
    write_file(config_dir / "jupyter_server_config.py", guard, 0o644)
    if settings.stacks.gen_cert:
        make_cert(settings, e, paths, group)
    if e.user:
        os.chown(config_dir, 0, settings.account.gid)
        chown(paths.jupyter_runtime, e.user)


def jupyter_environment(settings: Settings, e: Enabled, paths: Paths) -> dict[str, str]:
    """deepdocker's config folder first on JUPYTER_CONFIG_PATH (read last, so it wins); the user's and
    the image's are still read. In hub mode the Hub's login (its JUPYTERHUB_* variables) replaces the token."""
    env = {"JUPYTER_CONFIG_PATH": str(paths.jupyter_config.parent)}
    if not settings.hub:
        env["JUPYTER_TOKEN_FILE"] = str(paths.jupyter_token)
    env["JUPYTER_RUNTIME_DIR"] = str(paths.jupyter_runtime)
    return env


def jupyter_login(settings: Settings, e: Enabled, paths: Paths) -> tuple[str, str] | None:
    """Its URL with the token left off, and the token's file; none behind the Hub or with a password alone."""
    if settings.hub or not settings.secret("JUPYTER_TOKEN"):
        return None
    page = (settings.jupyter_default_url or "/lab").lstrip("/")
    scheme = "https" if settings.stacks.gen_cert else "http"
    url = f"{scheme}://{probe_host(settings.bind)}:{e.port}{settings.jupyter_base_url}{page}?token="
    return url, str(paths.jupyter_token)


def jupyter_notices(settings: Settings, e: Enabled) -> list[str]:
    prefix = os.path.dirname(os.path.dirname(e.exe))
    found = jupyter_config_scan.notice(jupyter_config_scan.login_settings(settings.account, e.home, (prefix,)))
    lines = [found] if found else []
    if settings.hub:
        who = settings.hub.user or "its user"
        where = settings.jupyter_base_url
        return [*lines, f"JupyterHub single-user server for {who} at {where}, behind the Hub's login"]
    login = jupyter_login(settings, e, Paths(settings.run_dir))
    if "JUPYTER_TOKEN" not in settings.generated or not login:
        return lines
    # Shown once, here; JUPYTER_TOKEN or JUPYTER_TOKEN_FILE choose a fixed one.
    token = settings.secret("JUPYTER_TOKEN")
    return [*lines, f"Jupyter token (generated, shown once): {token}  {login[0]}{token}"]


def prepare_rstudio(settings: Settings, e: Enabled, paths: Paths) -> None:
    make_dir(paths.rstudio_data, 0o755)
    if settings.is_root and e.own_login and settings.secret("PASSWORD"):
        # RStudio logs in through PAM: the notebook user's system password.
        line = f"{settings.nb_user}:{settings.secret('PASSWORD')}\n"
        subprocess.run(["chpasswd"], input=line, text=True, check=True, capture_output=True)


def rstudio_notices(settings: Settings, e: Enabled) -> list[str]:
    if "PASSWORD" not in settings.generated:
        return []
    return [f"RStudio login {settings.nb_user}, password (generated, shown once): {settings.secret('PASSWORD')}"]


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
            write_file(paths.secret(e, secret.var), settings.secret(secret.var), 0o600, e.user)
        if e.user:
            chown(own, e.user)


def setup_account(settings: Settings) -> None:
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
            stacks.chown_tree(account.home, account.uid, account.gid, opts.chown_home_recursive)
        for folder in opts.chown_extra:
            stacks.chown_tree(folder, account.uid, account.gid, opts.chown_extra_recursive)
    if settings.shared and settings.shared.action == "adopt":
        users.adopt(settings.shared, settings.account)


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


def make_cert(settings: Settings, e: Enabled, paths: Paths, group: int | None) -> None:
    """GEN_CERT: a self-signed certificate of this container's own, made at every start (root's,
    readable by the notebook user's group)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "365", "-subj", "/CN=deepdocker", "-keyout", str(paths.jupyter_key),
         "-out", str(paths.jupyter_cert)],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.chmod(paths.jupyter_key, 0o640 if group is not None else 0o600)
    if group is not None:
        for f in (paths.jupyter_key, paths.jupyter_cert):
            os.chown(f, -1, group)


def prepare(settings: Settings, config_text: str) -> Paths:
    paths = Paths(settings.run_dir)
    # 0711: daemons running as the notebook user reach their own subfolder, list nothing.
    make_dir(paths.run_dir, 0o711)
    if settings.nb_home.startswith(str(paths.run_dir)):
        # The notebook user's home when its own cannot be written (--read-only, an arbitrary UID).
        make_dir(Path(settings.nb_home), 0o700)
        os.chown(settings.nb_home, settings.account.uid, settings.account.gid)
    if nss_env(settings):
        write_file(paths.passwd, users.nss_passwd(settings.account), 0o644)
        if settings.account.nss:
            write_file(paths.group, users.nss_group(settings.account), 0o644)
    if any(e.on_demand for e in settings.enabled):
        make_wake_fifos(settings, paths)
    hand_over_secrets(settings, paths)
    for e in settings.enabled:
        if e.service.preparer:
            hook(e.service.preparer)(settings, e, paths)
    write_file(paths.state, state(settings), 0o644)
    # It may one day hold secrets: readable by its owner alone.
    write_file(paths.config, config_text, 0o600)
    return paths
