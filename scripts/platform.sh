#!/usr/bin/env bash
# Sourced by the install scripts (through locks.sh, or alone): what differs by architecture is
# decided in scripts/platforms/<Debian architecture>.env alone; this exports its PLATFORM_* values,
# and stops the build with one line (exit 2) on an architecture that has none.
PLATFORMS_DIR=${PLATFORMS_DIR:-$(dirname "${BASH_SOURCE[0]}")/platforms}

platform_load() {
  local arch file
  # Debian's name for the machine; uname's where there is no dpkg (host mode elsewhere).
  arch=$(dpkg --print-architecture 2>/dev/null) || case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
  esac
  file=$PLATFORMS_DIR/$arch.env
  if [ ! -f "$file" ]; then
    echo "$(basename "$0" .sh): no platform file for $arch; accepted: $(find "$PLATFORMS_DIR" -name '*.env' |
      sed 's|.*/||; s|\.env$||' | sort | tr '\n' ' ')" >&2
    return 2
  fi
  set -a
  # shellcheck source=/dev/null # scripts/platforms/<arch>.env: KEY=VALUE lines
  . "$file"
  set +a
}
platform_load || exit "$?"
