"""Environment -> validated Settings. Pure: reads env and the filesystem, writes nothing.

Every bad input raises UsageError, whose text is the one line the user sees.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from healthchecks.rundir import run_dir as default_run_dir

from .services import DEFAULT_SERVICES, REGISTRY, Service

ON_FATAL_CHOICES = ("stay", "exit")


class UsageError(Exception):
    """Bad input. Its message is one line naming the variable, the value and what is accepted."""

    def __init__(self, var: str, value: str, problem: str, accepted: str):
        super().__init__(f"{var}={value!r}: {problem}; accepted: {accepted}")


@dataclass(frozen=True)
class Enabled:
    """One enabled service, resolved for this start."""

    service: Service
    exe: str
    port: int
    # The account it runs as; None: the account that started deepdocker.
    user: str | None
    home: str


@dataclass(frozen=True)
class Settings:
    run_dir: Path
    bind: str
    enabled: tuple[Enabled, ...]
    nb_user: str
    nb_home: str
    notebook_dir: str
    jupyter_token: str
    # True when the token was made up here and must be shown once.
    token_generated: bool
    jupyter_base_url: str
    tensorboard_logdir: str
    ssh_host_key_dir: Path
    ssh_authorized_keys: str
    on_fatal: str
    is_root: bool

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


def read_secret(env: Mapping[str, str], var: str) -> str | None:
    """VAR, or the contents of the file named by VAR_FILE (Docker/Kubernetes secrets)."""
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
        if not value.strip() or any(c.isspace() for c in value):
            raise UsageError(var, value, "empty or contains white space", "a non-empty token without spaces")
        return value
    return None


def resolve_user(env: Mapping[str, str], is_root: bool) -> tuple[str, str]:
    """NB_USER -> (name, home). Unset: the account deepdocker was started by, with its HOME."""
    me = pwd.getpwuid(os.getuid())
    raw = env.get("NB_USER")
    if raw is None or raw == me.pw_name:
        return me.pw_name, env.get("HOME") or me.pw_dir
    if not is_root:
        raise UsageError(
            "NB_USER",
            raw,
            f"only root can switch users; deepdocker runs as {me.pw_name}",
            f"unset or {me.pw_name}",
        )
    try:
        entry = pwd.getpwnam(raw)
    except KeyError:
        raise UsageError("NB_USER", raw, "no such user", "an existing account") from None
    return entry.pw_name, entry.pw_dir


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
    nb_user, nb_home = resolve_user(env, is_root)

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
    notebook_dir = env.get("NOTEBOOK_DIR") or nb_home
    if "jupyter" in names and not os.path.isdir(notebook_dir):
        raise UsageError("NOTEBOOK_DIR", notebook_dir, "not a directory", "an existing directory")

    me = pwd.getpwuid(os.getuid()).pw_name
    enabled = []
    for name in names:
        svc = REGISTRY[name]
        user = nb_user if (is_root and svc.runs_as == "notebook" and nb_user != me) else None
        enabled.append(Enabled(svc, available[name], ports[name], user, nb_home))

    return Settings(
        run_dir=run_dir,
        bind=bind,
        enabled=tuple(enabled),
        nb_user=nb_user,
        nb_home=nb_home,
        notebook_dir=notebook_dir,
        jupyter_token=token or secrets.token_hex(24),
        token_generated=token is None,
        jupyter_base_url=parse_base_url(env.get("JUPYTER_BASE_URL", "/")),
        tensorboard_logdir=env.get("TENSORBOARD_LOGDIR") or os.path.join(notebook_dir, "logs"),
        ssh_host_key_dir=Path(env.get("SSH_HOST_KEY_DIR") or run_dir / "sshd"),
        ssh_authorized_keys=env.get("SSH_AUTHORIZED_KEYS", ""),
        on_fatal=on_fatal,
        is_root=is_root,
    )
