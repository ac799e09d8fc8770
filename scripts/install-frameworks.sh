#!/usr/bin/env bash
# Deep-learning frameworks into the user's environment. FRAMEWORKS picks (space or comma
# separated; empty: none): torch tensorflow keras pytensor onnx. VARIANT is cpu or gpu.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

wanted=${FRAMEWORKS//,/ }
lock=$(lock_file "user-$VARIANT") || exit "$?"
fw_dir=$REQUIREMENTS_DIR/frameworks
installed=()
for fw in $wanted; do
  case "$fw" in
  torch)
    # PyTorch's own index: .../whl/cpu for the CPU image (PyPI's Linux wheel is the CUDA
    # build, GBs), .../whl/cu130 for the GPU image; or PyPI, or a wheelhouse (build-image.sh).
    # `torch==2.13.0` also matches a wheelhouse's 2.13.0+cpu: keep it out when it is not this image's.
    wheels=${WHEELHOUSE_URL:-}
    [ "${TORCH_FROM_WHEELHOUSE:-}" = 1 ] || wheels=''
    # A platform may have a CPU torch of its own (scripts/platforms: arm64's from PyPI).
    if [ "$VARIANT" = cpu ] && [ -n "$PLATFORM_TORCH_CPU_VERSION" ] && [ -z "$wheels" ]; then
      TORCH_VERSION=$PLATFORM_TORCH_CPU_VERSION TORCH_INDEX_URL=$PLATFORM_TORCH_CPU_INDEX_URL
      echo "install-frameworks: torch $TORCH_VERSION from $TORCH_INDEX_URL, this platform's CPU build (scripts/platforms)"
    fi
    if [ -z "$lock" ]; then
      WHEELHOUSE_URL=$wheels user_pip --index-url "$TORCH_INDEX_URL" -r "$fw_dir/torch.in"
    elif grep -q '^torch==' "$lock"; then
      # Any index may offer it: pip takes only the file whose hash the lock holds.
      WHEELHOUSE_URL=$wheels user_pip --extra-index-url "$TORCH_INDEX_URL" -r "$fw_dir/torch.in"
    else
      echo "install-frameworks: *** torch $TORCH_VERSION from $TORCH_INDEX_URL: version-pinned, NOT hash-checked:" \
        "$(basename "$lock") has no hash for it (see its third line); its dependencies are hash-checked ***"
      WHEELHOUSE_URL=$wheels PIP_LOCK_FILE='' user_pip --no-deps --index-url "$TORCH_INDEX_URL" \
        -r "$fw_dir/torch.in"
      mapfile -t requires < <("$USER_VENV/bin/python" -c \
        'import importlib.metadata as m; print("\n".join(m.requires("torch") or []))')
      user_pip "${requires[@]}"
    fi
    if [ "$VARIANT" = gpu ] && ! runuser -u "$NB_USER" -- "$USER_VENV/bin/python" -c \
      'import sys, torch; sys.exit(torch.version.cuda is None)'; then
      echo "install-frameworks: the GPU image got a CPU-only torch ($TORCH_VERSION); give it a CUDA build" >&2
      exit 1
    fi
    ;;
  tensorflow | keras | pytensor | onnx)
    # tensorflow-cpu or tensorflow[and-cuda]; onnxruntime or onnxruntime-gpu, the CUDA 12 build,
    # which finds its CUDA and cuDNN libraries in the nvidia-*-cu12 wheels tensorflow[and-cuda] brings.
    file=$fw_dir/$fw-$VARIANT.in
    [ -f "$file" ] || file=$fw_dir/$fw.in
    user_pip -r "$file"
    ;;
  *)
    echo "install-frameworks: FRAMEWORKS has '$fw'; accepted: torch tensorflow keras pytensor onnx" >&2
    exit 2
    ;;
  esac
  installed+=("$fw")
done
# What went in, for the tests and for people: /opt/deepdocker/frameworks.
mkdir -p /opt/deepdocker
printf '%s\n' "${installed[@]}" >/opt/deepdocker/frameworks
echo "install-frameworks: ${installed[*]:-none}"
