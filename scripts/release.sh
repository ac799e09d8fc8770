#!/usr/bin/env bash
# Pushes the CPU image of every platform (scripts/platforms) to REGISTRY as one multi-architecture
# tag, REGISTRY/deepdocker:cpu (a manifest list of linux/amd64 and linux/arm64), and the same
# list under the version tag, REGISTRY/deepdocker:cpu-VERSION (setup.cfg's version). Each
# platform's image is pushed first under its own tag (REGISTRY/deepdocker:cpu-VERSION-ARCH).
# The images must be built already (make image, make image PLATFORM=linux/arm64); nothing is built.
# A registry on loopback is spoken to over plain HTTP, as Docker does; INSECURE=1 for another.
# usage: release.sh REGISTRY   (host[:port][/path], e.g. 127.0.0.1:5000 or registry.example.org/team)
set -euo pipefail

registry=${1:-}
here=$(cd "$(dirname "$0")/.." && pwd)
if ! printf '%s' "$registry" | grep -Eq '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$'; then
  echo "release: REGISTRY='$registry' is not a registry; accepted: host[:port][/path], e.g. 127.0.0.1:5000" >&2
  exit 2
fi
version=$(sed -n 's/^version = //p' "$here/setup.cfg")
case "$registry" in
127.0.0.1:* | 127.0.0.1 | localhost:* | localhost) insecure=1 ;;
*) insecure=${INSECURE:-0} ;;
esac
insecure_flag=()
[ "$insecure" != 1 ] || insecure_flag=(--insecure)

# Every platform's image, of its own architecture and this version, before anything is pushed.
sources=() arches=()
for file in "$here"/scripts/platforms/*.env; do
  arch=$(basename "$file" .env)
  suffix=$(sed -n 's/^PLATFORM_TAG_SUFFIX=//p' "$file")
  image=deepdocker:cpu$suffix
  found=$(docker image inspect -f '{{.Architecture}} {{index .Config.Labels "org.opencontainers.image.version"}}' \
    "$image" 2>/dev/null || true)
  if [ "$found" != "$arch $version" ]; then
    echo "release: $image is ${found:-not built} (wanted: $arch, version $version); build it first:" \
      "make image PLATFORM=linux/$arch" >&2
    exit 2
  fi
  sources+=("$image") arches+=("$arch")
done

list=$registry/deepdocker:cpu
members=()
for i in "${!sources[@]}"; do
  member=$registry/deepdocker:cpu-$version-${arches[$i]}
  docker tag "${sources[$i]}" "$member"
  echo "release: pushing $member"
  docker push -q "$member" >/dev/null
  members+=("$member")
done
# Docker 20.10 needs the experimental CLI for `docker manifest`; newer clients have it always.
export DOCKER_CLI_EXPERIMENTAL=enabled
for tag in "$list" "$list-$version"; do
  docker manifest rm "$tag" >/dev/null 2>&1 || true
  docker manifest create ${insecure_flag[@]+"${insecure_flag[@]}"} "$tag" "${members[@]}" >/dev/null
  for i in "${!members[@]}"; do
    variant=()
    [ "${arches[$i]}" != arm64 ] || variant=(--variant v8)
    docker manifest annotate --os linux --arch "${arches[$i]}" ${variant[@]+"${variant[@]}"} "$tag" "${members[$i]}"
  done
  docker manifest push ${insecure_flag[@]+"${insecure_flag[@]}"} --purge "$tag" >/dev/null
  echo "release: pushed $tag (${arches[*]})"
done
