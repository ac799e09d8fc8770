#!/usr/bin/env bash
# Shared by the install scripts (sourced).

# What the notebook user installs is writable by the `users` group: any UID in it (a remapped
# one, an arbitrary `docker run --user UID --group-add users`) can pip install into it later.
umask 002

# pip into the user's environment as the notebook user: files are born with the right
# owner, so no `chown -R` copies the whole environment into another image layer. A wheelhouse
# (WHEELHOUSE_URL, where the Dockerfile declares it) is looked in too.
user_pip() {
  runuser -u "$NB_USER" -- env HOME="/home/$NB_USER" \
    "$USER_VENV/bin/pip" install --no-cache-dir --disable-pip-version-check -q \
    ${WHEELHOUSE_URL:+--find-links "$WHEELHOUSE_URL"} "$@"
}
