#!/usr/bin/env bash
# Shared by the install scripts (sourced).

# What the notebook user installs is writable by the `users` group: any UID in it (a remapped
# one, an arbitrary `docker run --user UID --group-add users`) can pip install into it later.
umask 002

# shellcheck source=scripts/locks.sh
. "$(dirname "${BASH_SOURCE[0]}")/locks.sh"

# pip into the user's environment as the notebook user: files are born with the right
# owner, so no `chown -R` copies the whole environment into another image layer. A wheelhouse
# (WHEELHOUSE_URL, where the Dockerfile declares it) is looked in too. Every package comes from
# the environment's lock, its files hash-checked (PIP_LOCK_FILE= for one call without).
user_pip() {
  local file=${PIP_LOCK_FILE-unset}
  if [ "$file" = unset ]; then
    file=$(lock_file "user-$VARIANT") || exit "$?"
  fi
  if ! runuser -u "$NB_USER" -- env HOME="/home/$NB_USER" \
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
