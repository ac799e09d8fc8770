#!/usr/bin/env bash
# TensorBoard's own environment, without TensorFlow. With TensorFlow importable, TensorBoard
# imports it at start (about 200 MiB more, and seconds): the daemon runs from here, where it
# cannot, and reads event files written by TensorFlow/Keras and PyTorch all the same (scalars,
# images, histograms, graphs). The user's environment keeps its own tensorboard package, for
# torch.utils.tensorboard and %tensorboard. Owned by root: no user pip can break it. Without
# TensorFlow in the image (FRAMEWORKS) there is nothing to avoid, and no second environment (178 MB).
set -euo pipefail
# Not lib.sh: its umask 002 would make root's environment writable by group 0 (OpenShift's users).
# shellcheck source=scripts/locks.sh
. "$(dirname "$0")/locks.sh"

env=/opt/deepdocker/tensorboard
if ! grep -qx tensorflow /opt/deepdocker/frameworks; then
  echo "install-tensorboard: no TensorFlow in the image: TensorBoard runs from the user's environment"
  exit 0
fi
lock=$(lock_file tensorboard) || exit "$?"
python3 -m venv "$env"
# The lock as the requirements: exactly its packages, each file hash-checked.
if [ -n "$lock" ]; then
  wanted=(--require-hashes -r "$lock")
else
  wanted=(-r "$REQUIREMENTS_DIR/tensorboard.in")
fi
"$env/bin/pip" install --no-cache-dir --disable-pip-version-check -q \
  ${WHEELHOUSE_URL:+--find-links "$WHEELHOUSE_URL"} "${wanted[@]}"
"$env/bin/tensorboard" --version_tb
