#!/usr/bin/env bash
# Shared by the install scripts (sourced).

# The image's environments are root's and nobody else's to write (not group 0's either: OpenShift's
# arbitrary UIDs are in it). What the notebook user installs goes to their own layer, in their home
# (entrypoint/userlayer.py).
umask 022

# shellcheck source=scripts/locks.sh
. "$(dirname "${BASH_SOURCE[0]}")/locks.sh"

# pip into the image's user environment (root's: the notebook user reads it and installs on top of
# it, in their own layer). A wheelhouse (WHEELHOUSE_URL, where the Dockerfile declares it) is looked
# in too. Every package comes from the environment's lock, its files hash-checked (PIP_LOCK_FILE= for
# one call without).
user_pip() {
  local file=${PIP_LOCK_FILE-unset}
  if [ "$file" = unset ]; then
    file=$(lock_file "user-$VARIANT") || exit "$?"
  fi
  if ! env HOME=/root PIP_ROOT_USER_ACTION=ignore \
    "$USER_VENV/bin/pip" install --no-cache-dir --disable-pip-version-check -q \
    ${WHEELHOUSE_URL:+--find-links "$WHEELHOUSE_URL"} ${file:+--require-hashes --constraint "$file"} "$@"; then
    [ -z "$file" ] || echo "$(basename "$0" .sh): pip failed under $(basename "$file"); if a version ARG" \
      "differs from it: make lock (or PIP_LOCK=0)" >&2
    return 1
  fi
}

# A build switch (INSTALL_RSTUDIO, INSTALL_CODE, ...): `install_switch VAR WHAT` goes on for 1 and
# auto, stops the script with 0 for 0, and with 2 for anything else. Then `skip_or_fail REASON`:
# with auto, WHAT is left out of the image, loudly (exit 0); with 1, the build fails.
install_switch() {
  SWITCH_VAR=$1 SWITCH_WHAT=$2 SWITCH_SCRIPT=$(basename "$0" .sh)
  case "${!1}" in
  0) echo "$SWITCH_SCRIPT: skipped ($1=0)"; exit 0 ;;
  1 | auto) ;;
  *) echo "$SWITCH_SCRIPT: $1='${!1}'; accepted: 1, 0, auto" >&2; exit 2 ;;
  esac
}

skip_or_fail() {
  if [ "${!SWITCH_VAR}" = auto ]; then
    echo "$SWITCH_SCRIPT: *** $1: building WITHOUT $SWITCH_WHAT ***"
    echo "$SWITCH_SCRIPT: *** ($SWITCH_VAR=1 makes this an error; SERVICES will say it is not installed) ***"
    exit 0
  fi
  echo "$SWITCH_SCRIPT: $1" >&2
  exit 1
}
