#!/usr/bin/env bash
# Deep-learning frameworks into the user's environment. FRAMEWORKS picks (space or comma
# separated; empty: none): torch tensorflow keras pytensor onnx. VARIANT is cpu or gpu.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

wanted=${FRAMEWORKS//,/ }
installed=()
for fw in $wanted; do
  case "$fw" in
  torch)
    # PyTorch's own index: .../whl/cpu for the CPU image (PyPI's Linux wheel is the CUDA
    # build, GBs), .../whl/cu130 for the GPU image; or PyPI, or a wheelhouse (build-image.sh).
    if [ "${TORCH_FROM_WHEELHOUSE:-}" = 1 ]; then
      user_pip --index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION"
    else
      # `torch==2.13.0` also matches a wheelhouse's 2.13.0+cpu: keep it out when it is not this image's.
      WHEELHOUSE_URL='' user_pip --index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION"
    fi
    if [ "$VARIANT" = gpu ] && ! runuser -u "$NB_USER" -- "$USER_VENV/bin/python" -c \
      'import sys, torch; sys.exit(torch.version.cuda is None)'; then
      echo "install-frameworks: the GPU image got a CPU-only torch ($TORCH_VERSION); give it a CUDA build" >&2
      exit 1
    fi
    ;;
  tensorflow)
    if [ "$VARIANT" = cpu ]; then
      user_pip "tensorflow-cpu==$TENSORFLOW_VERSION"
    else
      user_pip "tensorflow[and-cuda]==$TENSORFLOW_VERSION"
    fi
    ;;
  keras) user_pip "keras==$KERAS_VERSION" ;;
  pytensor) user_pip "pytensor==$PYTENSOR_VERSION" ;;
  onnx)
    # onnxruntime-gpu: the CUDA 12 build, which finds its CUDA and cuDNN libraries in the
    # nvidia-*-cu12 wheels tensorflow[and-cuda] brings (onnxruntime.preload_dlls()).
    if [ "$VARIANT" = cpu ]; then
      user_pip "onnx==$ONNX_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION"
    else
      user_pip "onnx==$ONNX_VERSION" "onnxruntime-gpu==$ONNXRUNTIME_VERSION"
    fi
    ;;
  *)
    echo "install-frameworks: FRAMEWORKS has '$fw'; accepted: torch tensorflow keras pytensor onnx" >&2
    exit 2
    ;;
  esac
  installed+=("$fw")
done
# torch needs setuptools >= 77.0.3, and pip then takes the newest, which no longer has
# pkg_resources: TensorBoard 2.20's command line (the user's `tensorboard`, %tensorboard) imports it.
if [ ${#installed[@]} -gt 0 ]; then
  user_pip "setuptools==$SETUPTOOLS_VERSION"
fi
# What went in, for the tests and for people: /opt/deepdocker/frameworks.
mkdir -p /opt/deepdocker
printf '%s\n' "${installed[@]}" >/opt/deepdocker/frameworks
echo "install-frameworks: ${installed[*]:-none}"
