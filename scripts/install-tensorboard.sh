#!/usr/bin/env bash
# TensorBoard's own environment, without TensorFlow. With TensorFlow importable, TensorBoard
# imports it at start (about 200 MiB more, and seconds): the daemon runs from here, where it
# cannot, and reads event files written by TensorFlow/Keras and PyTorch all the same (scalars,
# images, histograms, graphs). The user's environment keeps its own tensorboard package, for
# torch.utils.tensorboard and %tensorboard. Owned by root: no user pip can break it. Without
# TensorFlow in the image (FRAMEWORKS) there is nothing to avoid, and no second environment (178 MB).
set -euo pipefail

env=/opt/deepdocker/tensorboard
if ! grep -qx tensorflow /opt/deepdocker/frameworks; then
  echo "install-tensorboard: no TensorFlow in the image: TensorBoard runs from the user's environment"
  exit 0
fi
python3 -m venv "$env"
"$env/bin/pip" install --no-cache-dir --disable-pip-version-check -q \
  ${WHEELHOUSE_URL:+--find-links "$WHEELHOUSE_URL"} "tensorboard==$TENSORBOARD_VERSION"
"$env/bin/tensorboard" --version_tb
