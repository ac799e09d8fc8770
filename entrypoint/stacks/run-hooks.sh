# shellcheck shell=bash
# docker-stacks' run-hooks.sh: `source run-hooks.sh FOLDER` runs the hooks in FOLDER, in name order.
# A `*.sh` file is sourced (the variables it exports stay in the shell that sourced this); any
# other executable is run; anything else is skipped with a line. A hook that fails is reported and
# the rest still run. deepdocker's start uses this same file for /usr/local/bin/start-notebook.d and
# before-notebook.d (entrypoint/stacks/hooks.py); it is /usr/local/bin/run-hooks.sh in the image.
# Lines on stderr; JUPYTER_DOCKER_STACKS_QUIET keeps back all but the errors.
_deepdocker_hooks_say() { [ -n "${JUPYTER_DOCKER_STACKS_QUIET:-}" ] || echo "$*" >&2; }
if [ "$#" -ne 1 ]; then
  echo "ERROR: Should pass exactly one directory (got $#): source run-hooks.sh FOLDER" >&2
  unset -f _deepdocker_hooks_say
  # shellcheck disable=SC2317 # sourced, this returns; run as a program, it exits
  return 1 2>/dev/null || exit 1
fi
if [ ! -d "$1" ]; then
  echo "ERROR: Directory $1 doesn't exist or is not a directory" >&2
  unset -f _deepdocker_hooks_say
  # shellcheck disable=SC2317 # sourced, this returns; run as a program, it exits
  return 1 2>/dev/null || exit 1
fi
_deepdocker_hooks_say "Running hooks in: $1 as uid: $(id -u) gid: $(id -g)"
for _deepdocker_hook in "$1"/*; do
  [ -e "$_deepdocker_hook" ] || continue
  case "$_deepdocker_hook" in
    *.sh)
      _deepdocker_hooks_say "Sourcing shell script: $_deepdocker_hook"
      # shellcheck disable=SC1090
      source "$_deepdocker_hook"
      _deepdocker_status=$?
      set +e
      ;;
    *)
      if [ -f "$_deepdocker_hook" ] && [ -x "$_deepdocker_hook" ]; then
        _deepdocker_hooks_say "Running executable: $_deepdocker_hook"
        "$_deepdocker_hook"
        _deepdocker_status=$?
      else
        _deepdocker_hooks_say "Ignoring non-executable: $_deepdocker_hook"
        _deepdocker_status=0
      fi
      ;;
  esac
  if [ "$_deepdocker_status" -ne 0 ]; then
    echo "ERROR: $_deepdocker_hook has failed, continuing execution (status $_deepdocker_status)" >&2
  fi
done
_deepdocker_hooks_say "Done running hooks in: $1"
unset -f _deepdocker_hooks_say
unset _deepdocker_hook _deepdocker_status
