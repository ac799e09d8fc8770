#!/usr/bin/env bash
# Sourced by the install scripts: this architecture's platform (platform.sh), and which lock
# (scripts/locks, written by make lock) an environment installs from. `lock_file NAME` prints the path of NAME's lock for this image's Python and
# machine, or nothing with PIP_LOCK=0 (said loudly); a Python without a lock stops the build (exit 2).
LOCKS_DIR=/usr/local/lib/deepdocker/locks
# shellcheck disable=SC2034 # for the scripts that source this file
REQUIREMENTS_DIR=/usr/local/lib/deepdocker/requirements
# shellcheck source=scripts/platform.sh
. "$(dirname "${BASH_SOURCE[0]}")/platform.sh"

lock_file() {
  local script python file
  script=$(basename "$0" .sh)
  case "${PIP_LOCK:-1}" in
  0)
    echo "$script: *** PIP_LOCK=0: $1 installs WITHOUT its lock: no hash is checked ***" >&2
    return 0
    ;;
  1) ;;
  *)
    echo "$script: PIP_LOCK='$PIP_LOCK'; accepted: 1 (install from scripts/locks), 0 (without)" >&2
    return 2
    ;;
  esac
  python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  file=$LOCKS_DIR/$1-py$python-$PLATFORM_MACHINE.txt
  if [ ! -f "$file" ]; then
    echo "$script: no lock for $1 on Python $python ($PLATFORM_MACHINE); accepted: a base whose Python scripts/locks has" \
      "($(find "$LOCKS_DIR" -name "$1-py*-$PLATFORM_MACHINE.txt" | sed -n 's/.*-py\(.*\)-[^-]*\.txt/\1/p' | sort | tr '\n' ' ')), or PIP_LOCK=0" >&2
    return 2
  fi
  echo "$file"
}

# One package's entry of a lock (its pin and hashes), for a pip too old to read hashes from -c.
lock_entry() {
  awk -v name="$2" '/^[^ #]/ { keep = (index($0, name "==") == 1) } keep' "$1"
}
