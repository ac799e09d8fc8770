#!/usr/bin/env bash
# Builds a minimal Debian base image from a Debian mirror with debootstrap and imports it
# into Docker: the base for machines that reach no image registry (make image falls back here).
# usage: make-base-image.sh TAG [SUITE] [MIRROR]
set -euo pipefail

tag=${1:?usage: make-base-image.sh TAG [SUITE] [MIRROR]}
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}

if ! command -v debootstrap >/dev/null; then
  echo "make-base-image: debootstrap is not installed (apt-get install debootstrap)" >&2
  exit 1
fi

root=$(mktemp -d /tmp/deepdocker-base.XXXXXX)
trap 'rm -rf "$root"' EXIT

echo "make-base-image: debootstrap --variant=minbase $suite from $mirror"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -20 "$root.log" >&2
  exit 1
}
rm -f "$root.log"
# What a registry's base image leaves out too: downloaded packages and apt lists.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" --numeric-owner -c . |
  docker import --change 'CMD ["/bin/bash"]' --message "debootstrap $suite" - "$tag" >/dev/null
echo "make-base-image: built $tag"
