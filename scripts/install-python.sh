#!/usr/bin/env bash
# The user's Python environment at $USER_VENV: the SciPy stack, JupyterLab, Notebook 7,
# TensorBoard. The notebook user owns it, so `pip install` from a notebook works; the
# control plane lives in a venv of its own that no user pip can break.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

install -d -o "$NB_UID" -g "$NB_GID" "$USER_VENV"
runuser -u "$NB_USER" -- python3 -m venv "$USER_VENV"
user_pip --upgrade pip
user_pip \
  "numpy==$NUMPY_VERSION" "scipy==$SCIPY_VERSION" "pandas==$PANDAS_VERSION" \
  "scikit-learn==$SKLEARN_VERSION" "matplotlib==$MATPLOTLIB_VERSION" \
  "jupyterlab==$JUPYTERLAB_VERSION" "notebook==$NOTEBOOK_VERSION" \
  "tensorboard==$TENSORBOARD_VERSION" ipykernel jupyter-server-proxy

# Login shells (ssh, `su -`) reset PATH in /etc/profile; give them the notebook's Python back.
echo "export PATH=\"$USER_VENV/bin:\$PATH\"" >/etc/profile.d/deepdocker-venv.sh
