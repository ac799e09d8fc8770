"""code: VS Code in the browser (code-server), behind Jupyter's login, started by its first request;
published with a password of its own on CODE_PUBLIC=true."""

from __future__ import annotations

from ...core.model import Probe, Secret, Service

SERVICE = Service(
    name="code",
    program="code-server",
    port_var="CODE_PORT",
    default_port=8443,
    probe=Probe("http", path="/healthz"),
    public_var="CODE_PUBLIC",
    secrets=(
        Secret(
            "CODE_PASSWORD",
            password=True,
            generate=True,
            in_file=True,
            doc="VS Code's own password, asked for only when `CODE_PUBLIC=true` publishes its port",
        ),
    ),
    # Opened by few sessions, ~150 MiB once a window is open: started on first use.
    on_demand=True,
    # scripts/install-code.sh: code-server on a Node.js of its own.
    own_dirs=("/opt/deepdocker/code/bin",),
    summary="VS Code in the browser (code-server), opening the notebook folder",
    order=30,
)
