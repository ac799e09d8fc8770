"""Environment -> validated Settings. Pure: reads env and the filesystem, writes nothing.

Every bad input raises UsageError, whose text is the one line the user sees.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Mapping
from pathlib import Path

from healthchecks.rundir import run_dir as default_run_dir
from healthchecks.state import FILE as STATE_FILE

from . import services
from .accounts import nss, users
from .core import values
from .core.errors import UsageError
from .core.files import check_folder, inside
from .core.model import Account, Context, Enabled, Service, Settings
from .core.values import parse_port
from .services import DEFAULT_SERVICES, REGISTRY
from .stacks import options as stacks

__all__ = ["Enabled", "Settings", "UsageError", "from_env"]

ON_FATAL_CHOICES = ("stay", "exit")
# Every variable deepdocker reads (README, "Environment variables"), besides the registry's (ports,
# switches, secrets and their _FILE, private ones). Each one set is checked for what a config line can hold first.
VARIABLES = (
    "SERVICES",
    "DEEPDOCKER_BIND",
    "DEEPDOCKER_RUN_DIR",
    "DEEPDOCKER_ON_FATAL",
    "DEEPDOCKER_LIVENESS",
    "DEEPDOCKER_ON_DEMAND",
    "NB_USER",
    "NB_UID",
    "NB_GID",
    "SHARED_DIR",
    *stacks.VARIABLES,
    # Not deepdocker's, but they reach config files: HOME (the daemons' environment) and PATH (sshd's SetEnv).
    "HOME",
    "PATH",
)
# The registry's: never shown in an error.
SECRETS = tuple(secret.var for secret in services.secrets())


def registry_variables() -> tuple[str, ...]:
    """The variables the registry's entries declare."""
    out: list[str] = []
    for svc in REGISTRY.values():
        out += [svc.port_var, *(v for v in (svc.public_var, svc.auth_off_var) if v), *svc.knobs, *svc.folders]
    return tuple(dict.fromkeys((*out, *services.private_vars())))


# A token is all that stands between the network and a notebook: not one a person could guess.
MIN_TOKEN = 8
# A secret file is a few bytes: /dev/zero or a log file is a mistake, not a secret.
MAX_SECRET_FILE = 64 * 1024
# sockaddr_un's sun_path holds 108 bytes, its terminating NUL included.
MAX_SOCKET_PATH = 107


def find_program(service: Service, path: str | None) -> str | None:
    return (
        _in_dirs(service.own_dirs, service.program)
        or shutil.which(service.program, path=path)
        or _in_dirs(service.search_dirs, service.program)
    )


def _in_dirs(dirs: tuple[str, ...], program: str) -> str | None:
    for d in dirs:
        candidate = os.path.join(d, program)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def installed(path: str | None, is_root: bool = False) -> dict[str, str]:
    """name -> executable, for every registry service whose program is present. Started as root, a
    service that keeps root is looked for in root's folders alone (users.trusted_path)."""
    found = {}
    for name, service in REGISTRY.items():
        own_path = users.trusted_path(path) if is_root and service.runs_as == "root" else path
        exe = find_program(service, own_path)
        if exe:
            found[name] = exe
    return found


def parse_services(raw: str | None, available: Mapping[str, str]) -> tuple[str, ...]:
    """SERVICES -> names in registry order. Comma/space separated, any case, duplicates ok."""
    valid = ", ".join([*REGISTRY, "all"])
    if raw is None:
        # The default asks only for what is installed, so a slim image still starts.
        return tuple(n for n in DEFAULT_SERVICES if n in available)
    words = [w for w in re.split(r"[\s,]+", raw.strip().lower()) if w]
    if not words:
        raise UsageError("SERVICES", raw, "no service named", valid)
    wanted: set[str] = set()
    for word in words:
        if word == "all":
            wanted.update(available)
        elif word not in REGISTRY:
            raise UsageError("SERVICES", raw, f"unknown service {word!r}", valid)
        elif word not in available:
            svc = REGISTRY[word]
            installed_names = ", ".join(n for n in REGISTRY if n in available) or "none"
            raise UsageError(
                "SERVICES",
                raw,
                f"{word} is not installed (no {svc.program} on PATH)",
                f"installed services: {installed_names}",
            )
        else:
            wanted.add(word)
    if not wanted:
        raise UsageError("SERVICES", raw, "'all' found no installed service", valid)
    return tuple(n for n in REGISTRY if n in wanted)


def parse_ports(env: Mapping[str, str], names: tuple[str, ...]) -> dict[str, int]:
    ports: dict[str, int] = {}
    # Every port variable that is set is checked, enabled or not: a typo is a typo.
    for name, svc in REGISTRY.items():
        raw = env.get(svc.port_var)
        port = svc.default_port if raw is None else parse_port(svc.port_var, raw)
        if name in names:
            ports[name] = port
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            # Name the variable the user set, not the default it ran into.
            var, other = REGISTRY[name].port_var, REGISTRY[seen[port]].port_var
            if var not in env:
                var, other = other, var
            where = f"{other}'s default" if other not in env else other
            raise UsageError(var, str(port), f"same port as {where}", "a port no other enabled service uses")
        seen[port] = name
    return ports


def read_secret(env: Mapping[str, str], var: str, reader: Account, spaces: bool = False) -> str | None:
    """VAR, or the contents of the file named by VAR_FILE (Docker/Kubernetes secrets).

    Tokens travel in URLs and headers: no white space. Passwords (spaces=True) may have it.
    The file is read as `reader` (the notebook user) could read it: no root-only file passes.
    """
    file_var = f"{var}_FILE"
    if var in env and file_var in env:
        raise UsageError(file_var, env[file_var], f"{var} is set too", f"either {var} or {file_var}, not both")
    if file_var in env:
        value = _secret_file(file_var, env[file_var], reader).strip()
        if not value:
            raise UsageError(file_var, env[file_var], "the file is empty", "a file holding the secret")

        def bad(problem: str, accepted: str) -> UsageError:  # names the file, never its contents
            return UsageError(file_var, env[file_var], f"what it holds {problem}", accepted)
    elif var in env:
        value = env[var]
        if not value.strip():
            raise UsageError(var, value, "empty", "a non-empty value", secret=True)

        def bad(problem: str, accepted: str) -> UsageError:
            return UsageError(var, value, problem, accepted, secret=True)
    else:
        return None
    found = values.problem(value)
    if found:
        raise bad(f"contains {found}", "printable UTF-8 characters")
    if not spaces and any(c.isspace() for c in value):
        raise bad("contains white space", "a token without spaces or newlines")
    if not spaces and len(value) < MIN_TOKEN:
        raise bad("is too short", f"a token of at least {MIN_TOKEN} characters")
    if len(value) > values.MAX_TEXT:
        raise bad("is too long", f"at most {values.MAX_TEXT} characters")
    return value


def _secret_file(var: str, path: str, reader: Account) -> str:
    values.text(var, path, limit=values.MAX_PATH, what="a path")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as e:
        raise UsageError(var, path, f"cannot read it ({e.strerror})", "a readable file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(var, path, "not a regular file", "a file holding the secret")
        if st.st_size > MAX_SECRET_FILE:
            raise UsageError(var, path, f"{st.st_size} bytes", f"a file of at most {MAX_SECRET_FILE} bytes")
        if not users.readable_by(st, reader.uid, reader.gid):
            why = f"{reader.name} (uid {reader.uid}) may not read it"
            raise UsageError(var, path, why, "a file the notebook user may read (a Docker or Kubernetes secret)")
        data = os.read(fd, MAX_SECRET_FILE + 1)
    finally:
        os.close(fd)
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise UsageError(var, path, "the file is not UTF-8 text", "a file of UTF-8 text") from None


def parse_bind(raw: str) -> str:
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        raise UsageError("DEEPDOCKER_BIND", raw, "not an IP address", "an IPv4 or IPv6 address, e.g. 0.0.0.0") from None
    # An address this host does not have, or IPv6 where it is off (Docker's default): every
    # daemon would fail to listen, and only after a minute of retries.
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((raw, 0))
    except OSError as e:
        accepted = "an address of this host or container, e.g. 0.0.0.0 (Docker turns IPv6 off unless asked)"
        raise UsageError("DEEPDOCKER_BIND", raw, f"cannot listen there ({e.strerror})", accepted) from None
    if address.is_unspecified and address.version == 6 and not _ipv6_outside():
        # bind("::") works with IPv6 off, and the daemons (tornado) then listen on IPv6 alone:
        # nothing Docker forwards (IPv4) would reach them.
        accepted = "0.0.0.0 (IPv4), or :: where the network has IPv6 (docker run --ipv6 / an IPv6 network)"
        raise UsageError("DEEPDOCKER_BIND", raw, "no IPv6 address here but loopback", accepted)
    return raw


def _ipv6_outside() -> bool:
    """Whether any interface but loopback has an IPv6 address (Linux: /proc/net/if_inet6)."""
    try:
        with open("/proc/net/if_inet6") as f:
            return any(line.split()[-1] != "lo" for line in f if line.strip())
    except OSError:
        return False


def parse_run_dir(raw: str) -> Path:
    values.plain_path("DEEPDOCKER_RUN_DIR", raw)
    run_dir = Path(raw)
    socket_path = run_dir / "supervisor.sock"
    if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
        raise UsageError(
            "DEEPDOCKER_RUN_DIR",
            raw,
            f"too long for a unix socket path ({socket_path})",
            f"a path of at most {MAX_SOCKET_PATH - len('/supervisor.sock')} bytes",
        )
    check_folder("DEEPDOCKER_RUN_DIR", run_dir)
    if run_dir.exists():
        accepted = "a new folder, an empty one, or one an earlier start made (it is re-moded and written)"
        if run_dir.stat().st_uid != os.geteuid():
            raise UsageError("DEEPDOCKER_RUN_DIR", raw, "belongs to someone else", accepted)
        if any(run_dir.iterdir()) and not (run_dir / STATE_FILE).is_file():
            raise UsageError("DEEPDOCKER_RUN_DIR", raw, "a folder with other things in it", accepted)
    return run_dir


def check_values(env: Mapping[str, str]) -> None:
    """What every set variable may hold at all, before any of them means anything."""
    for var in (*VARIABLES, *registry_variables()):
        raw = env.get(var)
        if raw is None:
            continue
        if var == "SSH_AUTHORIZED_KEYS":
            for line in raw.split("\n"):
                values.text(var, line, what="lines")
        else:
            values.text(var, raw, secret=var in SECRETS, limit=values.MAX_TEXT * (4 if var == "PATH" else 1))


def from_env(env: Mapping[str, str], path: str | None = None) -> Settings:
    """Validate every input; raise UsageError on the first bad one."""
    check_values(env)
    is_root = os.geteuid() == 0
    available = installed(path if path is not None else env.get("PATH"), is_root)
    names = parse_services(env.get("SERVICES"), available)
    ports = parse_ports(env, names)
    # Unset: every address, IPv4 and IPv6 where the host has it; set, it narrows that.
    bind = parse_bind(env["DEEPDOCKER_BIND"]) if env.get("DEEPDOCKER_BIND") else ""
    if "NB_USER" in env and not users.NAME.fullmatch(env["NB_USER"]):
        raise UsageError("NB_USER", env["NB_USER"], "not an account name", "a name such as jovyan")
    account = users.resolve(env, is_root)
    stack = stacks.parse(env, is_root)
    if (account.remap or account.rename_from or account.group) and users.read_only("/etc"):
        if not nss.nss_library():
            var = next((v for v in ("NB_UID", "NB_GID", "NB_USER", "NB_GROUP") if v in env), "SHARED_DIR")
            raise UsageError(
                var,
                env.get(var, ""),
                f"{account.name} would take uid {account.uid} / gid {account.gid}, but /etc is read-only",
                "a writable root file system, NB_UID/NB_GID the image's own, or an image with nss_wrapper",
            )
        # Served by nss_wrapper (users.nss_passwd); a renamed account keeps its old home unless the
        # new one is there (a mounted volume): nothing can be made in a read-only /home.
        home = account.home
        if account.rename_from and not os.path.isdir(home):
            home = pwd.getpwnam(account.rename_from).pw_dir
        account = dataclasses.replace(account, nss=True, home=home)
    shared_path = users.shared_dir(env)
    shared = users.shared_folder(shared_path, account, is_root)

    run_dir = parse_run_dir(default_run_dir(env))
    if inside(str(run_dir), shared_path):
        # deepdocker's secrets would land in the user's folder. Name the variable that was set.
        if env.get("DEEPDOCKER_RUN_DIR"):
            raise UsageError(
                "DEEPDOCKER_RUN_DIR", str(run_dir), "inside SHARED_DIR", "a folder of its own, e.g. /run/deepdocker"
            )
        raise UsageError("SHARED_DIR", str(shared_path), f"holds the run dir {run_dir}", "a folder of the user's")

    on_fatal = env.get("DEEPDOCKER_ON_FATAL", "stay").strip().lower()
    if on_fatal not in ON_FATAL_CHOICES:
        raise UsageError("DEEPDOCKER_ON_FATAL", on_fatal, "unknown policy", " or ".join(ON_FATAL_CHOICES))

    # Read whether or not the service is enabled: a typo is a typo.
    given = {}
    for secret in services.secrets():
        value = read_secret(env, secret.var, account, spaces=secret.password)
        if value is not None:
            given[secret.var] = value
    public = {
        n: s.public_var is None or values.switch(s.public_var, env.get(s.public_var)) for n, s in REGISTRY.items()
    }
    auth_off = {
        n: s.auth_off_var is not None and values.switch(s.auth_off_var, env.get(s.auth_off_var))
        for n, s in REGISTRY.items()
    }
    base_url = values.base_url("JUPYTER_BASE_URL", env.get("JUPYTER_BASE_URL", "/"))

    if not is_root and "HOME" in env:
        values.path("HOME", env["HOME"])
    # A remapped account gets its home folder at start, a renamed one a home of the new name (users.apply).
    if account.rename_from:
        home_ok = True
    elif not is_root:
        home_ok = os.path.isdir(account.home) and os.access(account.home, os.W_OK) and not users.read_only(account.home)
    else:
        # A remapped account's home is handed to its new UID at start, unless it is read-only.
        home_ok = os.path.isdir(account.home) and (
            (account.remap and not users.read_only(account.home))
            or users.writable_by(account.home, account.uid, account.gid)
            or users.docker_made(account.home)
        )
    nb_home = account.home if home_ok else str(run_dir / "home")
    # Else the shared folder, where the notebook user can write it (not under --read-only).
    fallback = shared.path if shared is not None and shared.action in ("ok", "adopt") else nb_home
    notebook_dir = env.get("NOTEBOOK_DIR") or (account.home if home_ok else fallback)
    if env.get("NOTEBOOK_DIR"):  # every service's folder, Jupyter's root
        values.path("NOTEBOOK_DIR", notebook_dir)
        if not os.path.isdir(notebook_dir):
            raise UsageError("NOTEBOOK_DIR", notebook_dir, "not a directory", "an existing directory")
        if not users.listable_by(notebook_dir, account.uid, account.gid):
            raise UsageError(
                "NOTEBOOK_DIR",
                notebook_dir,
                f"{account.name} (uid {account.uid}) may not open it",
                "a folder the notebook user may read",
            )
    folders = {}
    for svc in REGISTRY.values():
        for var, (default, _meaning) in svc.folders.items():
            folders[var] = values.path(var, env[var]) if env.get(var) else os.path.join(notebook_dir, default)
    own = {}
    for name, svc in REGISTRY.items():
        if svc.own_settings:
            context = Context(name in names, is_root, account, run_dir, notebook_dir)
            own[name] = svc.own_settings(env, context)

    # Only Jupyter's proxy can start a service on demand: without Jupyter, everything starts at once.
    on_demand = values.switch("DEEPDOCKER_ON_DEMAND", env.get("DEEPDOCKER_ON_DEMAND", "true")) and "jupyter" in names
    enabled = []
    for name in names:
        svc = REGISTRY[name]
        user = account.name if (is_root and svc.runs_as == "notebook" and account.name != "root") else None
        own_bind = bind if public[name] else "127.0.0.1"
        lazy = on_demand and svc.on_demand and not public[name]
        login = public[name] and (svc.public_var is None or bool(svc.secrets)) and not auth_off[name]
        enabled.append(Enabled(svc, available[name], ports[name], user, nb_home, own_bind, public[name], lazy, login))

    made = {}
    for e in enabled:
        for secret in e.service.secrets:
            if secret.generate and e.own_login and secret.var not in given and secret.unless not in given:
                made[secret.var] = secrets.token_hex(24) if not secret.password else secrets.token_urlsafe(12)
    return Settings(
        run_dir=run_dir,
        bind=bind,
        enabled=tuple(enabled),
        account=account,
        nb_home=nb_home,
        notebook_dir=notebook_dir,
        secrets={**given, **made},
        generated=tuple(made),
        jupyter_base_url=base_url,
        own=own,
        on_fatal=on_fatal,
        is_root=is_root,
        folders=folders,
        liveness=values.switch("DEEPDOCKER_LIVENESS", env.get("DEEPDOCKER_LIVENESS", "true")),
        shared=shared,
        stacks=stack,
    )
