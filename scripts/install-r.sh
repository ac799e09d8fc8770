#!/usr/bin/env bash
# R, the Jupyter R kernel (IRkernel) and rpy2. Debian and Ubuntu package IRkernel, so no
# CRAN mirror is needed at build time. r-base-dev (compilers for CRAN sources) is left out
# for size: apt-get install r-base-dev when needed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
apt-get install -y -qq --no-install-recommends r-base-core r-cran-irkernel >/dev/null
# Register the kernel with the user's Jupyter.
env PATH="$USER_VENV/bin:$PATH" R --quiet --no-save -e "IRkernel::installspec(user = FALSE, prefix = '$USER_VENV')" >/dev/null
# ABI mode: rpy2 talks to libR through cffi, no compiler needed.
RPY2_CFFI_MODE=ABI user_pip -r "$REQUIREMENTS_DIR/r.in"
# install.packages() goes to the user's library in their home (R_LIBS_USER's default, which the
# entrypoint makes at every start): the site library stays root's. Where that is, relative to a home:
HOME=/HOME R_LIBS_USER='' Rscript -e 'cat(path.expand(Sys.getenv("R_LIBS_USER")))' | sed 's|^/HOME/||' \
  >/usr/local/lib/deepdocker/r-libs-user
grep -q '^R/' /usr/local/lib/deepdocker/r-libs-user
apt-get clean
rm -rf /var/lib/apt/lists/*
