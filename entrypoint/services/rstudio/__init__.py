"""rstudio: RStudio Server, with its own login (the notebook user's password); behind the Hub's in hub mode."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ...core.files import make_dir
from ...core.model import Enabled, Probe, Secret, Service, Settings
from ...core.paths import Paths


@dataclass(frozen=True)
class Files:
    paths: Paths

    @property
    def data(self) -> Path:
        """rserver's --server-data-dir."""
        return self.paths.run_dir / "rstudio"


def prepare(settings: Settings, e: Enabled, paths: Paths) -> None:
    make_dir(Files(paths).data, 0o755)
    if settings.is_root and e.own_login and settings.secret("PASSWORD"):
        # RStudio logs in through PAM: the notebook user's system password.
        line = f"{settings.nb_user}:{settings.secret('PASSWORD')}\n"
        subprocess.run(["chpasswd"], input=line, text=True, check=True, capture_output=True)


def notices(settings: Settings, e: Enabled) -> list[str]:
    if "PASSWORD" not in settings.generated:
        return []
    return [f"RStudio login {settings.nb_user}, password (generated, shown once): {settings.secret('PASSWORD')}"]


SERVICE = Service(
    name="rstudio",
    program="rserver",
    port_var="RSTUDIO_PORT",
    default_port=8787,
    probe=Probe("http", path="/health-check"),
    runs_as="root",
    search_dirs=("/usr/lib/rstudio-server/bin",),
    secrets=(
        Secret(
            "PASSWORD",
            password=True,
            generate=True,
            doc="RStudio Server's password for `NB_USER` (rocker's names)",
        ),
    ),
    auth_off_var="DISABLE_AUTH",
    behind_hub=True,
    preparer=prepare,
    notices=notices,
    summary="RStudio Server (`rserver`)",
    files=Files,
    order=50,
    login="`NB_USER`'s password (`PASSWORD`, `PASSWORD_FILE`, or random and printed once)",
    open_up="`DISABLE_AUTH=true`, which warns at every start",
)
