#!/usr/bin/env bash
# docker-stacks' document tools: pandoc and XeTeX for `jupyter nbconvert --to pdf`, cm-super and
# dvipng for matplotlib's usetex. INSTALL_TEX=1 (default) installs them, 0 leaves them out
# (README, "Building": the size each costs).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
[ "${INSTALL_TEX:-1}" = 1 ] || { echo "INSTALL_TEX=$INSTALL_TEX: no pandoc, no TeX"; exit 0; }
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  pandoc texlive-xetex texlive-fonts-recommended texlive-plain-generic cm-super dvipng >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/*
