#!/usr/bin/env bash
# Prints make image's (the CPU image's) default FRAMEWORKS: all of them, less torch when PyTorch's own index
# (the only source of its CPU wheels) does not answer and WHEELHOUSE holds no torch wheel,
# which it says on stderr. A FRAMEWORKS given on the command line is used as it is, and fails
# the build if it cannot be had.
# usage: default-frameworks.sh TORCH_INDEX_URL
set -euo pipefail

all="torch tensorflow keras pytensor onnx"
index=${1:?usage: default-frameworks.sh TORCH_INDEX_URL}
if [ -n "${WHEELHOUSE:-}" ] && compgen -G "$WHEELHOUSE/torch-*cpu*.whl" >/dev/null; then
  echo "$all" # torch from the wheelhouse (build-image.sh)
elif curl -fsS -o /dev/null --connect-timeout 5 --max-time 15 "$index/torch/"; then
  echo "$all"
else
  echo "default-frameworks: *** $index does not answer: building WITHOUT torch (FRAMEWORKS=\"$all\" insists) ***" >&2
  echo "${all#torch }"
fi
