"""tensorboard: TensorBoard, behind Jupyter's login, started by its first request."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ...core import values
from ...core.model import Context, Probe, Service


def own_settings(env: Mapping[str, str], context: Context) -> dict[str, Any]:
    logdir = env.get("TENSORBOARD_LOGDIR") or os.path.join(context.notebook_dir, "logs")
    return {"logdir": values.config("TENSORBOARD_LOGDIR", logdir, what="a folder or URL")}


SERVICE = Service(
    name="tensorboard",
    program="tensorboard",
    port_var="TENSORBOARD_PORT",
    default_port=6006,
    probe=Probe("http", path="/"),
    public_var="TENSORBOARD_PUBLIC",
    # Most sessions never open it, and it costs ~100 MiB idle: started on first use.
    on_demand=True,
    # Without TensorFlow to import (scripts/install-tensorboard.sh): ~200 MiB less.
    own_dirs=("/opt/deepdocker/tensorboard/bin",),
    knobs={"TENSORBOARD_LOGDIR": ("`$NOTEBOOK_DIR/logs`", "what TensorBoard shows (need not exist yet)")},
    own_settings=own_settings,
    summary="TensorBoard",
    order=20,
    # Most sessions use it: on by default (started on first use, so it costs nothing at rest).
    default=True,
)
