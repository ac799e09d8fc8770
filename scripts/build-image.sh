#!/usr/bin/env bash
# Builds one deepdocker image. When the base image can be neither found locally nor pulled
# (no registry reachable), builds a Debian base with debootstrap and says so: the air-gapped path.
# usage: build-image.sh DOCKERFILE TAG BASE_IMAGE [docker build args...]
set -euo pipefail

dockerfile=${1:?usage: build-image.sh DOCKERFILE TAG BASE_IMAGE [docker build args...]}
tag=${2:?}
base=${3:?}
shift 3
local_base=${LOCAL_BASE_IMAGE:-deepdocker-base:bookworm}

if docker image inspect "$base" >/dev/null 2>&1; then
  echo "build-image: base $base (local)"
elif docker pull -q "$base" >/dev/null 2>&1; then
  echo "build-image: base $base (pulled)"
else
  echo "build-image: *** cannot pull $base: using a local Debian base, $local_base, built with debootstrap ***"
  if ! docker image inspect "$local_base" >/dev/null 2>&1; then
    "$(dirname "$0")/make-base-image.sh" "$local_base"
  fi
  base=$local_base
fi

# The classic builder where BuildKit (buildx) is missing; the Dockerfiles suit both.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi

start=$(date +%s)
docker build -f "$dockerfile" -t "$tag" --build-arg "BASE_IMAGE=$base" "$@" .
echo "build-image: built $tag in $(($(date +%s) - start)) s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.2f GB", $1/1e9}')"
