#!/usr/bin/env bash
# The mptun demo in one command: a file downloaded through the SOCKS5 tunnel over an emulated
# Wi-Fi path (127.0.0.2) and LTE path (127.0.0.3), Wi-Fi cut halfway, with a summary at the end.
# Options go to the demo: --seconds N, --size 64MB, --no-cut, --seed N.
# Installs pnpm and the packages first when they are missing (as scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/setup-node.sh

if [ ! -d node_modules ] || [ ! -d apps/demo/node_modules ]; then
  echo "[setup] installing packages"
  pnpm install --frozen-lockfile
fi

# One process tree, bounded in time: the demo closes everything it opened and exits 0 when
# the downloaded file's SHA-256 matches; the timeout is a last guard against a hang.
exec timeout --kill-after=5 120 node --conditions=source --import tsx apps/demo/src/main.ts "$@"
