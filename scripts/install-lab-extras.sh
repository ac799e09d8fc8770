#!/usr/bin/env bash
# What a scipy-notebook user expects beside the lab: interactive widgets (ipywidgets), interactive
# matplotlib figures (ipympl: %matplotlib widget) and Git in the lab's sidebar (jupyterlab-git, which
# uses the image's git), nbclassic (DOCKER_STACKS_JUPYTER_CMD=nbclassic) and jupyterhub (its
# jupyterhub-singleuser, for hub mode: entrypoint/hub.py). Pinned like the rest; their lab extensions come prebuilt in the wheels.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

user_pip -r "$REQUIREMENTS_DIR/lab-extras.in"
