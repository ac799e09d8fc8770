#!/usr/bin/env bash
# The user's Python environment at $USER_VENV: the SciPy stack, JupyterLab, Notebook 7,
# TensorBoard. The notebook user owns it, so `pip install` from a notebook works; the
# control plane lives in a venv of its own that no user pip can break.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# setgid: everything made in it belongs to the `users` group (NB_GID is 100, users).
install -d -m 2775 -o "$NB_UID" -g users "$USER_VENV"
runuser -u "$NB_USER" -- python3 -m venv "$USER_VENV"
# The venv's own pip may be too old to read hashes from a constraints file: its lock entry first.
lock=$(lock_file "user-$VARIANT") || exit "$?"
if [ -n "$lock" ]; then
  lock_entry "$lock" pip >/tmp/pip.lock
  PIP_LOCK_FILE='' user_pip --require-hashes --no-deps -r /tmp/pip.lock
  rm /tmp/pip.lock
else
  user_pip --upgrade pip
fi
# ${NAME} in the .in files: the Dockerfile's ARGs, which pip reads from the environment.
user_pip -r "$REQUIREMENTS_DIR/python.in"
# Login shells (ssh, `su -`) reset PATH in /etc/profile; give them the notebook's Python back.
echo "export PATH=\"$USER_VENV/bin:\$PATH\"" >/etc/profile.d/deepdocker-venv.sh

# Offline by default: JupyterLab neither asks about nor fetches Jupyter news, checks for no
# update, and its extension manager lists what is installed without asking PyPI. Defaults
# only: a user turns them back on in Settings > Notifications, or with {"LabApp":
# {"extension_manager": "pypi"}} in ~/.jupyter/jupyter_server_config.json (README, "Offline").
# (A jupyter_server_config.d/ file would only be read for enabling extensions.)
install -d -o "$NB_UID" -g "$NB_GID" "$USER_VENV/share/jupyter/lab/settings/overrides.d"
cat >"$USER_VENV/share/jupyter/lab/settings/overrides.d/deepdocker-offline.json" <<'JSON'
{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}
JSON
cat >"$USER_VENV/etc/jupyter/jupyter_server_config.json" <<'JSON'
{"LabApp": {"extension_manager": "readonly"}}
JSON
