#!/usr/bin/env bash
# Builds one deepdocker image for PLATFORM (linux/amd64, linux/arm64: scripts/platforms; the
# default is this machine's). A foreign one is built and run through qemu-user-static. When the base
# image can be neither found locally for that platform nor pulled (no registry reachable), builds a
# Debian base with debootstrap and says so: the air-gapped path.
# usage: [PLATFORM=linux/ARCH] build-image.sh DOCKERFILE TAG BASE_IMAGE [docker build args...]
set -euo pipefail

dockerfile=${1:?usage: build-image.sh DOCKERFILE TAG BASE_IMAGE [docker build args...]}
tag=${2:?}
base=${3:?}
shift 3
case "$(uname -m)" in
aarch64 | arm64) native=linux/arm64 ;;
*) native=linux/amd64 ;;
esac
platform=${PLATFORM:-$native}
arch=${platform#linux/}
platform_file=$(dirname "$0")/platforms/$arch.env
if [ "$platform" = "$arch" ] || [ ! -f "$platform_file" ]; then
  echo "build-image: PLATFORM=$platform is not one this builds; accepted:" \
    "$(find "$(dirname "$0")/platforms" -name '*.env' | sed 's|.*/|linux/|; s/\.env$//' | sort | tr '\n' ' ')" >&2
  exit 2
fi
# shellcheck source=/dev/null # scripts/platforms/<arch>.env: KEY=VALUE lines
. "$platform_file"
if [ "$platform" != "$native" ] && [ "$(uname -s)" = Linux ] && [ "$(head -1 /proc/sys/fs/binfmt_misc/qemu-"$PLATFORM_MACHINE" 2>/dev/null)" != enabled ]; then
  echo "build-image: *** $platform on a $native machine runs through emulation, and binfmt_misc has no" \
    "enabled qemu-$PLATFORM_MACHINE: install qemu-user-static and binfmt-support (Docker Desktop has it) ***" >&2
fi
local_base=${LOCAL_BASE_IMAGE:-deepdocker-base:bookworm$PLATFORM_TAG_SUFFIX}

# A base of the wrong architecture (an amd64 ubuntu:24.04 for an arm64 build) is pulled again.
base_arch() { docker image inspect -f '{{.Architecture}}' "$1" 2>/dev/null; }
if [ "$(base_arch "$base")" = "$arch" ]; then
  echo "build-image: base $base (local, $arch)"
elif docker pull -q --platform "$platform" "$base" >/dev/null 2>&1 && [ "$(base_arch "$base")" = "$arch" ]; then
  echo "build-image: base $base (pulled, $arch)"
else
  echo "build-image: *** cannot pull $base for $platform: using a local Debian base, $local_base, built with debootstrap ***"
  if [ "$(base_arch "$local_base")" != "$arch" ]; then
    "$(dirname "$0")/make-base-image.sh" "$local_base" bookworm http://deb.debian.org/debian "$arch"
  fi
  base=$local_base
fi

# The classic builder where BuildKit (buildx) is missing; the Dockerfiles suit both.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi

# WHEELHOUSE: a folder of wheels pip looks in first (air-gapped builds; a torch wheel of your
# own). Served on loopback for the build's RUN steps (host network) and never copied into a
# layer. A torch wheel there is the one installed: its version, PyPI for its dependencies.
wheel_args=()
if [ -n "${WHEELHOUSE:-}" ]; then
  if [ ! -d "$WHEELHOUSE" ]; then
    echo "build-image: WHEELHOUSE=$WHEELHOUSE is not a folder; accepted: a folder of .whl files" >&2
    exit 2
  fi
  port=${WHEELHOUSE_PORT:-8799}
  python3 -m http.server --bind 127.0.0.1 --directory "$WHEELHOUSE" "$port" >/dev/null 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  if ! kill -0 "$server" 2>/dev/null; then
    echo "build-image: cannot serve WHEELHOUSE on 127.0.0.1:$port (taken?); accepted: WHEELHOUSE_PORT=<a free port>" >&2
    exit 2
  fi
  wheel_args=(--network host --build-arg "WHEELHOUSE_URL=http://127.0.0.1:$port/")
  # A CPU build (+cpu) for the CPU image, any other (PyPI's Linux torch is the CUDA build) for the GPU one.
  # Only a wheel for this platform's machine.
  if [[ $dockerfile == *gpu* ]]; then
    torch_wheel=$(find "$WHEELHOUSE" -maxdepth 1 -name "torch-*_$PLATFORM_MACHINE.whl" ! -name '*+cpu*' ! -name '*%2Bcpu*' | sort -V | tail -1)
  else
    torch_wheel=$(find "$WHEELHOUSE" -maxdepth 1 \( -name "torch-*+cpu*_$PLATFORM_MACHINE.whl" -o -name "torch-*%2Bcpu*_$PLATFORM_MACHINE.whl" \) | sort -V | tail -1)
  fi
  if [ -n "$torch_wheel" ]; then
    version=$(basename "$torch_wheel" | cut -d- -f2 | sed 's/%2[Bb]/+/')
    wheel_args+=(--build-arg "TORCH_VERSION=$version" --build-arg "TORCH_INDEX_URL=https://pypi.org/simple"
      --build-arg TORCH_FROM_WHEELHOUSE=1)
    echo "build-image: torch $version from WHEELHOUSE=$WHEELHOUSE"
  fi
fi

# The GPU image's torch: from PyTorch's own index (TORCH_INDEX, from the Makefile) where it
# answers, else from PyPI, whose Linux wheel is the same CUDA build (TORCH_VERSION pins it).
if [[ $dockerfile == *gpu* ]] && [ -z "${torch_wheel:-}" ] && [ -n "${TORCH_INDEX:-}" ] &&
  ! curl -fsS -o /dev/null --connect-timeout 5 --max-time 15 "$TORCH_INDEX/torch/"; then
  echo "build-image: *** $TORCH_INDEX does not answer: torch from PyPI (the same CUDA build) ***"
  wheel_args+=(--build-arg "TORCH_INDEX_URL=https://pypi.org/simple")
fi

# What the image says of itself (OCI labels): setup.cfg's version, the checkout's commit (-dirty
# with changes not committed; unknown outside git) and its remote where that is a URL, the build's time.
checkout=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version = //p' "$checkout/setup.cfg")
revision=$(git -C "$checkout" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git -C "$checkout" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  revision=$revision-dirty
fi
source_url=$(git -C "$checkout" remote get-url origin 2>/dev/null || true)
case "$source_url" in https://* | git@* | ssh://*) ;; *) source_url='' ;; esac
label_args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision"
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --build-arg "SOURCE=$source_url")

start=$(date +%s)
docker build --platform "$platform" -f "$dockerfile" -t "$tag" --build-arg "BASE_IMAGE=$base" "${label_args[@]}" \
  ${wheel_args[@]+"${wheel_args[@]}"} ${1+"$@"} .
echo "build-image: built $tag ($platform) in $(($(date +%s) - start)) s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.2f GB", $1/1e9}')"
