"""Jupyter's login: every trait that decides who gets in, pinned in deepdocker's config; the
password's hash made by Jupyter's own code, as the notebook user."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ...accounts.nss import as_notebook_user
from ...core.model import Enabled, Settings


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


# Every trait that decides who gets into Jupyter, pinned in deepdocker's config (read last: it is
# first on JUPYTER_CONFIG_PATH), so that no config the notebook user can write switches the login
# off or widens it. The identity traits are the Hub's in hub mode (jupyterhub-singleuser sets them).
IDENTITY = "jupyter_server.auth.identity.PasswordIdentityProvider"


def login_pins(settings: Settings, e: Enabled, hashed: str, cookie_secret: Path) -> dict:
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
        "cookie_secret_file": str(cookie_secret),
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
