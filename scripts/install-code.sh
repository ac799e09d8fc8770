#!/usr/bin/env bash
# code-server (VS Code in the browser, SERVICES=code) from the npm registry, pinned, each download
# checked against its pinned SHA-512, with a Node.js of its own (code-server 4.100 needs Node 20;
# Debian and Ubuntu ship 18), all under CODE_PREFIX: apart from the user's environment.
#
# INSTALL_CODE: 1 = required, 0 = skip, auto = install when the npm registry answers.
# CODE_PREFIX: /opt/deepdocker/code in the image; make venv puts one under .venv for host mode.
# Needs: curl, tar, a C++ compiler, make, python3 and Kerberos' headers (code-server builds its
# native modules), ripgrep (`rg`: VS Code's search; its npm package would fetch one from GitHub).
# In the image (the default CODE_PREFIX, as root, with apt) what is missing is installed; elsewhere
# (make venv) nothing is installed beside CODE_PREFIX.
set -euo pipefail

INSTALL_CODE=${INSTALL_CODE:-auto}
CODE_PREFIX=${CODE_PREFIX:-/opt/deepdocker/code}
CODE_SERVER_VERSION=4.100.3
CODE_SERVER_SHA512=q/Fh2DOxCRNhC/WiG/6sAhSKnj7ZACTVBaeeZ+rWjol//0FCbl/qg1ln5ecZ99jYcfqMxZZAyWcN+YBIo0DgpA==
NODE_VERSION=20.20.2
NODE_SHA512_AMD64=PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
NODE_SHA512_ARM64=LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==
NPM_VERSION=11.19.1
NPM_SHA512=ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
# The ripgrep release @vscode/ripgrep 1.15 (in code-server's lock file) asks for, by asset name.
RIPGREP_PACKAGE=1.15.11
RIPGREP_ASSET=v13.0.0-10
REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
install_switch INSTALL_CODE code-server

# This architecture's builds (scripts/platforms) and Node.js's pinned digest for it.
arch=$PLATFORM_NODE_ARCH rg_target=$PLATFORM_RG_TARGET
case "$arch" in
x64) node_sha=$NODE_SHA512_AMD64 ;;
arm64) node_sha=$NODE_SHA512_ARM64 ;;
*) skip_or_fail "no pinned Node.js for $arch" ;;
esac

if [ "$CODE_PREFIX" = /opt/deepdocker/code ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  command -v rg >/dev/null || missing+=(ripgrep)
  command -v g++ >/dev/null || missing+=(g++)
  command -v make >/dev/null || missing+=(make)
  [ -e /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rm -rf /var/lib/apt/lists/*
  fi
fi
for tool in curl tar rg g++ make python3; do
  command -v "$tool" >/dev/null || skip_or_fail "$tool is missing (see the top of $0)"
done
[ -e /usr/include/gssapi/gssapi.h ] || skip_or_fail "Kerberos' headers are missing (Debian: libkrb5-dev)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch NAME URL SHA512: the file, or skip/fail; never one that does not match its pin.
fetch() {
  curl -fsSL --retry 2 --connect-timeout 15 -o "$work/$1" "$2" || skip_or_fail "$2 cannot be downloaded"
  got=$(openssl dgst -sha512 -binary "$work/$1" | base64 -w0)
  [ "$got" = "$3" ] || {
    echo "install-code: $2 does not match its pinned SHA-512" >&2
    exit 1
  }
}
fetch node.tgz "$REGISTRY/node-linux-$arch/-/node-linux-$arch-$NODE_VERSION.tgz" "$node_sha"
fetch npm.tgz "$REGISTRY/npm/-/npm-$NPM_VERSION.tgz" "$NPM_SHA512"
fetch code-server.tgz "$REGISTRY/code-server/-/code-server-$CODE_SERVER_VERSION.tgz" "$CODE_SERVER_SHA512"

rm -rf "$CODE_PREFIX"
mkdir -p "$CODE_PREFIX/node" "$CODE_PREFIX/npm" "$CODE_PREFIX/bin"
tar -xzf "$work/node.tgz" -C "$CODE_PREFIX/node" --strip-components=1
tar -xzf "$work/npm.tgz" -C "$CODE_PREFIX/npm" --strip-components=1
node=$CODE_PREFIX/node/bin/node

# @vscode/ripgrep takes a release from its download cache (in TMPDIR) before it asks GitHub: the
# cache holds this machine's rg. Native modules build against the Node headers just unpacked
# (node-gyp would download them), and npx may fetch node-gyp without asking.
cache="$work/vscode-ripgrep-cache-$RIPGREP_PACKAGE"
mkdir -p "$cache" "$work/rg"
cp "$(command -v rg)" "$work/rg/rg"
tar -czf "$cache/ripgrep-$RIPGREP_ASSET-$rg_target.tar.gz" -C "$work/rg" rg
# Node trusts its own copy of Mozilla's list: add the system's (where the image's certs/ step put a
# TLS-intercepting proxy's CA), as pip and curl trust it.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
# code-server's postinstall runs `npm` and `npx` from PATH: these, on this Node.
mkdir -p "$work/bin"
for tool in npm npx; do
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node" "$CODE_PREFIX/npm/bin/$tool-cli.js" >"$work/bin/$tool"
  chmod 755 "$work/bin/$tool"
done
PATH="$work/bin:$CODE_PREFIX/node/bin:$PATH" TMPDIR="$work" HOME="$work" npm_config_yes=true \
  npm_config_nodedir="$CODE_PREFIX/node" npm_config_update_notifier=false npm_config_fund=false \
  npm_config_audit=false npm_config_cache="$work/npm-cache" \
  "$node" "$CODE_PREFIX/npm/bin/npm-cli.js" install --unsafe-perm --loglevel=error --no-save \
  --prefix "$CODE_PREFIX" "$work/code-server.tgz" || skip_or_fail "npm could not install code-server"
# npm and the headers were for the build alone.
rm -rf "$CODE_PREFIX/npm" "$CODE_PREFIX/node/include" "$CODE_PREFIX/node/share"

# The one program deepdocker looks for (entrypoint/services.py), on this Node whatever PATH says.
cat >"$CODE_PREFIX/bin/code-server" <<EOF
#!/bin/sh
exec "$node" "$CODE_PREFIX/node_modules/code-server/out/node/entry.js" "\$@"
EOF
chmod 755 "$CODE_PREFIX/bin/code-server"
HOME="$work" "$CODE_PREFIX/bin/code-server" --version >/dev/null
echo "install-code: code-server $CODE_SERVER_VERSION on Node.js $NODE_VERSION in $CODE_PREFIX ($(du -sh "$CODE_PREFIX" | cut -f1))"
