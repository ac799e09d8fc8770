#!/usr/bin/env bash
# Trusts every *.crt found in /tmp/certs (the repo's certs/ folder, ignored by git): for
# TLS-intercepting proxies between the build and PyPI. apt uses plain HTTP and needs none.
set -euo pipefail

# ca-certificates comes with install-system.sh, which runs first.
shopt -s nullglob
certs=(/tmp/certs/*.crt)
if ((${#certs[@]})); then
  mkdir -p /usr/local/share/ca-certificates/deepdocker
  cp "${certs[@]}" /usr/local/share/ca-certificates/deepdocker/
  update-ca-certificates >/dev/null
  echo "install-certs: trusting ${#certs[@]} extra certificate file(s) from certs/"
fi
rm -rf /tmp/certs
