#!/usr/bin/env bash
# Shiny apps (SERVICES=shiny): R's own shiny package (Debian's r-cran-shiny) always; Shiny Server
# from Posit's download where it answers, pinned and checked against its SHA-256 like RStudio
# (INSTALL_SHINY_SERVER: 1 = required, 0 = skip, auto = when Posit's server answers). And the one
# program deepdocker runs, SHINY_PREFIX/bin/shiny-apps --host=H --port=N DIR: Shiny Server over the apps
# folder where it is installed, else R's shiny serving the app there.
#
# SHINY_PREFIX: /opt/deepdocker/shiny in the image (as root with apt, r-cran-shiny is installed);
# make venv puts the launcher under .venv for host mode when R and its shiny package are there.
set -euo pipefail
# shellcheck source=scripts/platform.sh
. "$(dirname "$0")/platform.sh"

# INSTALL_SHINY=0 leaves all of it out (143 MB: R's shiny and what it needs).
INSTALL_SHINY=${INSTALL_SHINY:-1}
INSTALL_SHINY_SERVER=${INSTALL_SHINY_SERVER:-auto}
SHINY_PREFIX=${SHINY_PREFIX:-/opt/deepdocker/shiny}
SHINY_SERVER_VERSION=${SHINY_SERVER_VERSION:-1.5.22.1017}
# Not pinned yet: Posit's download was never reachable where this was written. Set it (for the
# .deb at the URL below) to install Shiny Server; without it the build refuses to download.
SHINY_SERVER_SHA256_AMD64=${SHINY_SERVER_SHA256_AMD64:-}

case "$INSTALL_SHINY" in
0) echo "install-shiny: skipped (INSTALL_SHINY=0)"; exit 0 ;;
1) ;;
*) echo "install-shiny: INSTALL_SHINY='$INSTALL_SHINY'; accepted: 1, 0" >&2; exit 2 ;;
esac
case "$INSTALL_SHINY_SERVER" in
0 | 1 | auto) ;;
*) echo "install-shiny: INSTALL_SHINY_SERVER='$INSTALL_SHINY_SERVER'; accepted: 1, 0, auto" >&2; exit 2 ;;
esac

image=""
if [ "$SHINY_PREFIX" = /opt/deepdocker/shiny ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  image=yes
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends r-cran-shiny >/dev/null
fi
if ! Rscript -e 'library(shiny)' >/dev/null 2>&1; then
  echo "install-shiny: *** R's shiny package is missing (Debian: r-cran-shiny): WITHOUT shiny-apps ***"
  exit 0
fi

server_or_not() {
  if [ "$INSTALL_SHINY_SERVER" = 1 ]; then
    echo "install-shiny: $1" >&2
    exit 1
  fi
  echo "install-shiny: *** $1: Shiny Server left out; R's shiny package serves the app ***"
}

if [ -n "$image" ] && [ "$INSTALL_SHINY_SERVER" != 0 ]; then
  url="https://download3.rstudio.org/ubuntu-18.04/x86_64/shiny-server-$SHINY_SERVER_VERSION-amd64.deb"
  deb=/tmp/shiny-server.deb
  if [ -n "$PLATFORM_NO_SHINY_SERVER" ]; then
    server_or_not "$PLATFORM_NO_SHINY_SERVER, not $(dpkg --print-architecture)"
  elif [ -z "$SHINY_SERVER_SHA256_AMD64" ]; then
    server_or_not "no pinned SHA-256 for Shiny Server $SHINY_SERVER_VERSION (set SHINY_SERVER_SHA256_AMD64)"
  elif ! curl -fsSL --retry 2 --connect-timeout 15 -o "$deb" "$url"; then
    server_or_not "$url cannot be downloaded"
  else
    echo "$SHINY_SERVER_SHA256_AMD64  $deb" | sha256sum -c --quiet - || {
      echo "install-shiny: $url does not match its pinned SHA-256" >&2
      exit 1
    }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
    rm -f "$deb"
  fi
fi
[ -z "$image" ] || rm -rf /var/lib/apt/lists/*

mkdir -p "$SHINY_PREFIX/bin"
cat >"$SHINY_PREFIX/bin/shiny-apps" <<'EOF'
#!/bin/sh
# shiny-apps --host=HOST --port=PORT DIR (deepdocker's SERVICES=shiny, under supervisord): the
# Shiny apps in DIR at http://HOST:PORT/. Shiny Server, where installed, serves every app in it (a folder each, or DIR
# itself); R's shiny package serves the one app in DIR (app.R, or ui.R and server.R), else a page
# saying where to put one. Either way the apps' output goes to stdout/stderr: `docker logs`.
set -eu
host=127.0.0.1 port=3838
while [ $# -gt 1 ]; do
  case "$1" in
  --host=*) host=${1#--host=} ;;
  --port=*) port=${1#--port=} ;;
  *) echo "shiny-apps: unknown option $1; usage: shiny-apps --host=HOST --port=PORT DIR" >&2; exit 2 ;;
  esac
  shift
done
dir=$1
server=/opt/shiny-server/bin/shiny-server
if [ -x "$server" ]; then
  case "$dir" in
  *[!A-Za-z0-9._/+@~-]*) echo "shiny-apps: Shiny Server's config cannot name $dir: use a plain path" >&2; exit 2 ;;
  esac
  conf=$(mktemp -d)
  printf 'run_as %s;\nserver {\n  listen %s %s;\n  location / {\n    site_dir %s;\n    log_dir %s;\n    directory_index on;\n  }\n}\n' \
    "$(id -un)" "$port" "$host" "$dir" "$conf" >"$conf/shiny-server.conf"
  SHINY_LOG_STDERR=1 exec "$server" "$conf/shiny-server.conf"
fi
exec Rscript --no-save --no-restore -e '
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
is_app <- any(file.exists(file.path(dir, c("app.R", "server.R"))))
app <- if (is_app) dir else shiny::shinyApp(
  shiny::fluidPage(shiny::h3("No Shiny app here yet"), shiny::p(
    "Put app.R (or ui.R and server.R) in ", shiny::code(dir),
    ", then restart it: supervisorctl restart shiny")),
  function(input, output) NULL)
if (!is_app) message("shiny-apps: no app in ", dir, " (app.R, or ui.R and server.R): a page says so")
shiny::runApp(app, port = as.integer(args[3]), host = args[2], launch.browser = FALSE)
' "$dir" "$host" "$port"
EOF
chmod 755 "$SHINY_PREFIX/bin/shiny-apps"
echo "install-shiny: $SHINY_PREFIX/bin/shiny-apps ($([ -x /opt/shiny-server/bin/shiny-server ] && echo "Shiny Server" || echo "R's shiny package"))"
