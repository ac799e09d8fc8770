#!/usr/bin/env bash
# Builds a minimal Debian base image from a Debian mirror with debootstrap and loads it into
# Docker: the base for machines that reach no image registry (make image falls back here).
# ARCH is a Debian architecture (amd64, arm64); a foreign one runs through qemu-user-static
# (binfmt_misc), and the image carries that architecture, so Docker runs it emulated.
# usage: make-base-image.sh TAG [SUITE] [MIRROR] [ARCH]
set -euo pipefail

tag=${1:?usage: make-base-image.sh TAG [SUITE] [MIRROR] [ARCH]}
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}
arch=${4:-$(dpkg --print-architecture 2>/dev/null || echo amd64)}

if ! command -v debootstrap >/dev/null; then
  echo "make-base-image: debootstrap is not installed (apt-get install debootstrap)" >&2
  exit 1
fi

root=$(mktemp -d /tmp/deepdocker-base.XXXXXX)
trap 'rm -rf "$root" "$root.image"' EXIT

echo "make-base-image: debootstrap --variant=minbase --arch=$arch $suite from $mirror"
debootstrap --variant=minbase --arch="$arch" "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -20 "$root.log" >&2
  echo "make-base-image: a foreign ARCH needs qemu-user-static and binfmt-support (update-binfmts --enable qemu-${arch/arm64/aarch64})" >&2
  exit 1
}
rm -f "$root.log"
# What a registry's base image leaves out too: downloaded packages and apt lists.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

# An image archive of one layer, as `docker save` writes it, loaded with `docker load`: unlike
# `docker import` (which gives Docker 20.10's own architecture whatever --platform says), its
# config carries the architecture of the files.
image=$root.image
mkdir -p "$image/layer"
tar -C "$root" --numeric-owner -cf "$image/layer/layer.tar" .
diff_id=$(sha256sum "$image/layer/layer.tar" | cut -d' ' -f1)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
variant=''
[ "$arch" != arm64 ] || variant='"variant":"v8",'
printf '{"architecture":"%s",%s"os":"linux","created":"%s","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/bash"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"debootstrap --variant=minbase --arch=%s %s"}]}' \
  "$arch" "$variant" "$created" "$diff_id" "$created" "$arch" "$suite" >"$image/config.json"
config=$(sha256sum "$image/config.json" | cut -d' ' -f1)
mv "$image/config.json" "$image/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer/layer.tar"]}]' "$config" "$tag" >"$image/manifest.json"
tar -C "$image" -c . | docker load -q >/dev/null
echo "make-base-image: built $tag ($arch)"
