#!/usr/bin/env bash
# The test command: on a fresh machine, installs Node 24 and the locked
# dependencies, then typechecks, builds and runs every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/node24.sh bash -c '
  set -euo pipefail
  echo "node $(node --version), npm $(npm --version)"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
  npm test
'
