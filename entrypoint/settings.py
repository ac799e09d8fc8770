"""Environment -> validated Settings. Pure: reads env and the filesystem, writes nothing.

Every bad input raises UsageError, whose text is the one line the user sees.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from healthchecks.rundir import run_dir as default_run_dir

from . import users
from .errors import UsageError
from .services import DEFAULT_SERVICES, REGISTRY, Service
from .sshkeys import key_problem

__all__ = ["Enabled", "Settings", "UsageError", "from_env"]

ON_FATAL_CHOICES = ("stay", "exit")


@dataclass(frozen=True)
class Enabled:
    """One enabled service, resolved for this start."""

    service: Service
    exe: str
    port: int
    # The account it runs as; None: the account that started deepdocker.
    user: str | None
    home: str
    # The address it listens on.
    bind: str
    # False: no login of its own, so loopback only, behind Jupyter's (see Service.public_var).
    public: bool


@dataclass(frozen=True)
class Settings:
    run_dir: Path
    bind: str
    enabled: tuple[Enabled, ...]
    account: users.Account
    # HOME for the notebook daemons: the account's home, or one under the run dir
    # when that is not writable (an arbitrary `docker run --user` UID).
    nb_home: str
    notebook_dir: str
    # "" when Jupyter takes a password only.
    jupyter_token: str
    # True when the token was made up here and must be shown once.
    token_generated: bool
    jupyter_password: str | None
    rstudio_password: str | None
    rstudio_password_generated: bool
    disable_auth: bool
    jupyter_base_url: str
    tensorboard_logdir: str
    ssh_host_key_dir: Path
    ssh_authorized_keys: str
    on_fatal: str
    is_root: bool

    @property
    def nb_user(self) -> str:
        return self.account.name

    @property
    def me(self) -> str:
        """Whoever runs supervisord; a `docker run --user` UID may have no name."""
        return "root" if self.is_root else self.account.name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.service.name for e in self.enabled)

    def get(self, name: str) -> Enabled | None:
        return next((e for e in self.enabled if e.service.name == name), None)


def find_program(service: Service, path: str | None) -> str | None:
    found = shutil.which(service.program, path=path)
    if found:
        return found
    for d in service.search_dirs:
        candidate = os.path.join(d, service.program)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def installed(path: str | None) -> dict[str, str]:
    """name -> executable, for every registry service whose program is present."""
    found = {}
    for name, service in REGISTRY.items():
        exe = find_program(service, path)
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


def parse_port(var: str, raw: str) -> int:
    if not re.fullmatch(r"\d{1,5}", raw.strip()):
        raise UsageError(var, raw, "not a port number", "an integer from 1 to 65535")
    port = int(raw)
    if not 1 <= port <= 65535:
        raise UsageError(var, raw, "port out of range", "an integer from 1 to 65535")
    return port


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
            other = REGISTRY[seen[port]].port_var
            var = REGISTRY[name].port_var
            raise UsageError(var, str(port), f"same port as {other}", "a port no other enabled service uses")
        seen[port] = name
    return ports


def read_secret(env: Mapping[str, str], var: str, spaces: bool = False) -> str | None:
    """VAR, or the contents of the file named by VAR_FILE (Docker/Kubernetes secrets).

    Tokens travel in URLs and headers: no white space. Passwords (spaces=True) may have it.
    """
    file_var = f"{var}_FILE"
    if var in env and file_var in env:
        raise UsageError(file_var, env[file_var], f"{var} is set too", f"either {var} or {file_var}, not both")
    if file_var in env:
        path = env[file_var]
        try:
            value = Path(path).read_text().strip()
        except OSError as e:
            raise UsageError(file_var, path, f"cannot read it ({e.strerror})", "a readable file") from None
        if not value:
            raise UsageError(file_var, path, "the file is empty", "a file holding the secret")
        return value
    if var in env:
        value = env[var]
        if not value.strip():
            raise UsageError(var, value, "empty", "a non-empty value")
        if not spaces and any(c.isspace() for c in value):
            raise UsageError(var, value, "contains white space", "a token without spaces")
        return value
    return None


def parse_bool(var: str, raw: str | None) -> bool:
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(var, raw, "not a yes/no value", "true or false (also 1/0, yes/no)")


def parse_authorized_keys(raw: str) -> str:
    for number, line in enumerate(raw.splitlines(), 1):
        problem = key_problem(line)
        if problem:
            raise UsageError(
                "SSH_AUTHORIZED_KEYS", raw[:60], f"line {number}: {problem}", "OpenSSH public keys, one per line"
            )
    return raw


def parse_bind(raw: str) -> str:
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        raise UsageError("DEEPDOCKER_BIND", raw, "not an IP address", "an IPv4 or IPv6 address, e.g. 0.0.0.0") from None
    return raw


def parse_base_url(raw: str) -> str:
    if not re.fullmatch(r"/([A-Za-z0-9._~-]+/)*", raw if raw.endswith("/") else raw + "/"):
        raise UsageError("JUPYTER_BASE_URL", raw, "not a URL path", "a path such as / or /user/me/")
    return raw if raw.endswith("/") else raw + "/"


def from_env(env: Mapping[str, str], path: str | None = None) -> Settings:
    """Validate every input; raise UsageError on the first bad one."""
    is_root = os.geteuid() == 0
    available = installed(path if path is not None else env.get("PATH"))
    names = parse_services(env.get("SERVICES"), available)
    ports = parse_ports(env, names)
    bind = parse_bind(env.get("DEEPDOCKER_BIND", "0.0.0.0"))
    account = users.resolve(env, is_root)
    if "sshd" in names and not is_root and str(account.uid) == account.name:
        raise UsageError(
            "SERVICES",
            env.get("SERVICES", ""),
            f"sshd needs an account, and uid {account.uid} has none",
            "root, or a uid with a passwd entry",
        )

    run_dir = Path(default_run_dir(env))
    if not run_dir.is_absolute() or re.search(r"[;\x00-\x1f]", str(run_dir)):
        raise UsageError(
            "DEEPDOCKER_RUN_DIR",
            str(run_dir),
            "not a usable path",
            "an absolute path without ';' or control characters",
        )

    on_fatal = env.get("DEEPDOCKER_ON_FATAL", "stay").strip().lower()
    if on_fatal not in ON_FATAL_CHOICES:
        raise UsageError("DEEPDOCKER_ON_FATAL", on_fatal, "unknown policy", " or ".join(ON_FATAL_CHOICES))

    token = read_secret(env, "JUPYTER_TOKEN")
    password = read_secret(env, "JUPYTER_PASSWORD", spaces=True)
    rstudio_password = read_secret(env, "PASSWORD", spaces=True)
    disable_auth = parse_bool("DISABLE_AUTH", env.get("DISABLE_AUTH"))
    # Checked whether or not the service is enabled: a typo is a typo.
    public = {n: s.public_var is None or parse_bool(s.public_var, env.get(s.public_var)) for n, s in REGISTRY.items()}

    # A remapped account gets its home chowned at start (users.apply).
    home_ok = os.path.isdir(account.home) and (
        account.remap or users.writable_by(account.home, account.uid, account.gid)
    )
    nb_home = account.home if home_ok else str(run_dir / "home")
    notebook_dir = env.get("NOTEBOOK_DIR") or (account.home if home_ok else env.get("SHARED_DIR") or nb_home)
    if "jupyter" in names and env.get("NOTEBOOK_DIR") and not os.path.isdir(notebook_dir):
        raise UsageError("NOTEBOOK_DIR", notebook_dir, "not a directory", "an existing directory")

    enabled = []
    for name in names:
        svc = REGISTRY[name]
        user = account.name if (is_root and svc.runs_as == "notebook" and account.name != "root") else None
        own_bind = bind if public[name] else "127.0.0.1"
        enabled.append(Enabled(svc, available[name], ports[name], user, nb_home, own_bind, public[name]))

    rstudio_generated = "rstudio" in names and not disable_auth and rstudio_password is None
    return Settings(
        run_dir=run_dir,
        bind=bind,
        enabled=tuple(enabled),
        account=account,
        nb_home=nb_home,
        notebook_dir=notebook_dir,
        jupyter_token=token if token is not None else ("" if password else secrets.token_hex(24)),
        token_generated=token is None and not password,
        jupyter_password=password,
        rstudio_password=secrets.token_urlsafe(12) if rstudio_generated else rstudio_password,
        rstudio_password_generated=rstudio_generated,
        disable_auth=disable_auth,
        jupyter_base_url=parse_base_url(env.get("JUPYTER_BASE_URL", "/")),
        tensorboard_logdir=env.get("TENSORBOARD_LOGDIR") or os.path.join(notebook_dir, "logs"),
        ssh_host_key_dir=Path(env.get("SSH_HOST_KEY_DIR") or run_dir / "sshd"),
        ssh_authorized_keys=parse_authorized_keys(env.get("SSH_AUTHORIZED_KEYS", "")),
        on_fatal=on_fatal,
        is_root=is_root,
    )
