#!/usr/bin/env bash
# RStudio Server from Posit's download, pinned and checked against its SHA-256.
# INSTALL_RSTUDIO: 1 = required, 0 = skip, auto = install when Posit's server answers.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
install_switch INSTALL_RSTUDIO "RStudio Server"

arch=$(dpkg --print-architecture)
case "$arch" in
amd64) sha=$RSTUDIO_SHA256_AMD64 ;;
arm64) sha=$RSTUDIO_SHA256_ARM64 ;;
*) sha="" ;;
esac
# No download goes in unchecked: a build without a pinned checksum for this architecture stops.
[ -n "$sha" ] || skip_or_fail "no pinned SHA-256 for $arch (set RSTUDIO_SHA256_${arch^^})"
# Posit builds for Ubuntu 22.04 ("jammy") run on Ubuntu 24.04 and Debian 12.
url="https://download2.rstudio.org/server/jammy/$arch/rstudio-server-$RSTUDIO_VERSION-$arch.deb"
deb=/tmp/rstudio-server.deb

curl -fsSL --retry 2 --connect-timeout 15 -o "$deb" "$url" || skip_or_fail "$url cannot be downloaded"
echo "$sha  $deb" | sha256sum -c --quiet - || {
  echo "install-rstudio: $url does not match its pinned SHA-256" >&2
  exit 1
}
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
rm -f "$deb"
apt-get clean
rm -rf /var/lib/apt/lists/*
