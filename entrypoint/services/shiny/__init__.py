"""shiny: Shiny apps (Shiny Server where installed, else R's shiny package), behind Jupyter's login,
started by their first request."""

from __future__ import annotations

from ...core.model import Probe, Service

SERVICE = Service(
    name="shiny",
    program="shiny-apps",
    port_var="SHINY_PORT",
    default_port=3838,
    probe=Probe("http", path="/"),
    public_var="SHINY_PUBLIC",
    on_demand=True,
    # scripts/install-shiny.sh: Shiny Server where installed, else R's shiny package.
    own_dirs=("/opt/deepdocker/shiny/bin",),
    folders={"SHINY_APPS_DIR": ("shiny", "the Shiny app (R's shiny), or a folder of apps (Shiny Server)")},
    summary="Shiny apps (Shiny Server where installed, else R's shiny package)",
    order=40,
)
