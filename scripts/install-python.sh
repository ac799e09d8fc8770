#!/usr/bin/env bash
# The user's Python environment at $USER_VENV: the SciPy stack, JupyterLab, Notebook 7,
# TensorBoard, uv. Root's: what the notebook user installs goes to a layer of their own on top of
# it, in their home (entrypoint/userlayer.py). The control plane lives in a venv of its own.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

python3 -m venv "$USER_VENV"
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
# Login shells (ssh, `su -`) reset PATH in /etc/profile; give them the notebook's Python back, the
# user's layer first (its name: entrypoint/userlayer.py, Image.layer_name).
layer=$("$USER_VENV/bin/python" -c 'import platform, sys; print("python%d.%d-%s" % (*sys.version_info[:2], platform.machine()))')
# `docker exec -u jovyan CONTAINER pip install x` (the container's own PATH, not the daemons'): the
# image's pip and uv take the notebook user to their layer; root keeps to the image's own.
for cmd in pip pip3 "pip${layer#python}"; do
  cmd=${cmd%-*}
  cat >"$USER_VENV/bin/$cmd" <<SH
#!/bin/sh
# deepdocker: as the notebook user, pip of their layer (entrypoint/userlayer.py); as root, the image's.
layer="\$HOME/.local/share/deepdocker/$layer"
# VIRTUAL_ENV is the layer's in a login shell, where its own pip can still be passed over: on a
# home mounted noexec (Docker's --tmpfs) its scripts cannot run, its python (a link) can.
if [ "\$(id -u)" != 0 ] && [ "\${VIRTUAL_ENV:-\$layer}" = "\$layer" ] && [ -x "\$layer/bin/python" ]; then
  [ -f "\$layer/bin/pip" ] && exec "\$layer/bin/python" "\$layer/bin/pip" "\$@"
  exec "\$layer/bin/python" -m pip "\$@"
fi
exec "$USER_VENV/bin/python" -m pip "\$@"
SH
done
mv "$USER_VENV/bin/uv" "$USER_VENV/bin/uv-image"
cat >"$USER_VENV/bin/uv" <<'SH'
#!/bin/sh
# deepdocker: uv, for the notebook user in their layer, leaving the image's packages to the image
# (entrypoint/uvshim.py); for root, as it is (uv-image).
exec /opt/deepdocker/venv/bin/python -I -m entrypoint.uvshim "$@"
SH
chmod 755 "$USER_VENV"/bin/pip* "$USER_VENV/bin/uv"
cat >/etc/profile.d/deepdocker-venv.sh <<SH
export PATH="$USER_VENV/bin:\$PATH"
if [ -n "\$HOME" ] && [ -d "\$HOME/.local/share/deepdocker/$layer/bin" ]; then
  export VIRTUAL_ENV="\$HOME/.local/share/deepdocker/$layer"
  export PATH="\$VIRTUAL_ENV/bin:\$PATH" JUPYTER_PATH="\$VIRTUAL_ENV/share/jupyter\${JUPYTER_PATH:+:\$JUPYTER_PATH}"
fi
SH

# Offline by default: JupyterLab neither asks about nor fetches Jupyter news, checks for no
# update, and its extension manager lists what is installed without asking PyPI. Defaults
# only: a user turns them back on in Settings > Notifications, or with {"LabApp":
# {"extension_manager": "pypi"}} in ~/.jupyter/jupyter_server_config.json (README, "Offline").
# (A jupyter_server_config.d/ file would only be read for enabling extensions.)
install -d "$USER_VENV/share/jupyter/lab/settings/overrides.d"
cat >"$USER_VENV/share/jupyter/lab/settings/overrides.d/deepdocker-offline.json" <<'JSON'
{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}
JSON
cat >"$USER_VENV/etc/jupyter/jupyter_server_config.json" <<'JSON'
{"LabApp": {"extension_manager": "readonly"}}
JSON
