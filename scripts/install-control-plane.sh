#!/usr/bin/env bash
# The control plane (entrypoint, health, supervisord) in a venv of its own, apart from the
# user's Python, so no user `pip install` can break supervision.
set -euo pipefail
# shellcheck source=scripts/locks.sh
. "$(dirname "$0")/locks.sh"

venv=/opt/deepdocker/venv
lock=$(lock_file control-plane) || exit "$?"
python3 -m venv "$venv"
if [ -n "$lock" ]; then
  # Its dependencies exactly as locked, each file hash-checked; then the package itself, from
  # this source (no index, nothing else fetched), and pip's word that nothing is missing.
  "$venv/bin/pip" install --no-cache-dir --disable-pip-version-check -q --require-hashes -r "$lock"
  "$venv/bin/pip" install --no-cache-dir --disable-pip-version-check -q --no-deps --no-build-isolation \
    --no-index /opt/deepdocker/src
  "$venv/bin/pip" check
else
  "$venv/bin/pip" install --no-cache-dir -q --upgrade pip
  "$venv/bin/pip" install --no-cache-dir -q /opt/deepdocker/src
fi
for cmd in deepdocker-entrypoint deepdocker-health deepdocker-env supervisorctl; do
  ln -sf "$venv/bin/$cmd" "/usr/local/bin/$cmd"
done
# docker-stacks' start commands, for `docker run IMAGE start-notebook.py ...` under another
# entrypoint, or a JupyterHub config that names them: the entrypoint handles them by name.
for cmd in start.sh start-notebook.sh start-notebook.py start-singleuser.sh start-singleuser.py; do
  printf '#!/bin/sh\nexec %s %s "$@"\n' "$venv/bin/deepdocker-entrypoint" "$cmd" >"/usr/local/bin/$cmd"
  chmod 755 "/usr/local/bin/$cmd"
done
# docker-stacks' run-hooks.sh (`source /usr/local/bin/run-hooks.sh FOLDER`): the file the start runs
# its own hooks with.
ln -sf "$("$venv/bin/python" -I -c 'from entrypoint.stacks.hooks import RUN_HOOKS; print(RUN_HOOKS)')" \
  /usr/local/bin/run-hooks.sh
# docker-stacks' home: `work` (where its docs mount a project: -v "$PWD":/home/jovyan/work) and
# `.jupyter`, the notebook user's, in its group, as the rest of the home (install-system.sh).
install -d -o "$NB_USER" -g users -m 2775 "/home/$NB_USER/work" "/home/$NB_USER/.jupyter"
# `supervisorctl status` with no flags finds the rendered config here.
ln -sf /run/deepdocker/supervisord.conf /etc/supervisord.conf
# The run dir is a VOLUME (Dockerfile): per-container state stays out of `docker commit`. Open
# like /tmp until a root start makes it 0711; a `--user` start keeps to a folder of its own in it.
install -d -m 1777 /run/deepdocker
rm -rf /opt/deepdocker/src
