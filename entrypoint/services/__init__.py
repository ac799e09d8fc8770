"""The registry: every service deepdocker can run, one folder each.

A service is a package here, `entrypoint/services/<name>/`: its `SERVICE` (a core.model.Service:
program, port, probe, user, secrets, variables, and the functions it needs, named by reference),
its supervisord program template (`program.conf.j2`: every setting it uses is an attribute of `e`,
the enabled service, of `settings`, or of `files`, its own files), its install script
(`install.sh`, one build step of the image), and what host mode needs (`host.sh`). Adding a service
is adding a folder: everything else is derived from the entries (SERVICES, validation, secrets kept
from the daemons, users, supervisord settings, the server-proxy entries behind Jupyter's login, the
health state and probes, the docs' tables, the image's build steps, the ports the tests use).

Jupyter is the front door by design (Service.front_door): the others sit behind its login
(jupyter-server-proxy), and hub mode is JupyterHub's single-user Jupyter.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..core.model import Secret, Service


def _discover() -> tuple[dict[str, Service], dict[str, str]]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append((module.SERVICE, module.__name__))
    found.sort(key=lambda pair: (pair[0].order, pair[0].name))
    return {s.name: s for s, _ in found}, {s.name: package for s, package in found}


# name -> Service, in registry order; name -> the package that holds it (its template, its scripts).
REGISTRY, PACKAGES = _discover()

# What an unset SERVICES starts (Service.default): the notebook and its dashboard.
DEFAULT_SERVICES = tuple(name for name, s in REGISTRY.items() if s.default)


def secrets() -> tuple[Secret, ...]:
    return tuple(secret for s in REGISTRY.values() for secret in s.secrets)


def private_vars() -> tuple[str, ...]:
    """Every variable read by the entrypoint that no daemon's environment gets: each secret, its
    _FILE variant, and the entries' private variables."""
    out = [v for secret in secrets() for v in (secret.var, f"{secret.var}_FILE")]
    return (*out, *(v for s in REGISTRY.values() for v in s.private_vars))
