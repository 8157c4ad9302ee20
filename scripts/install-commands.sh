#!/usr/bin/env bash
# Makes mptun-server, mptun-client and mptun-linkem commands: builds the workspace (so they
# start fast) and links their bins into BIN_DIR (default ~/.local/bin). Run it once after the
# README's set-up; run it again after pulling changes (it rebuilds).
#   BIN_DIR=/usr/local/bin bash scripts/install-commands.sh
#   MPTUN_SKIP_BUILD=1 ...   link only (the commands then run from source until a build)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
bin_dir="${BIN_DIR:-$HOME/.local/bin}"

if [ -z "${MPTUN_SKIP_BUILD:-}" ]; then
  echo "[install] building (pnpm build)"
  pnpm build
fi
mkdir -p "$bin_dir"
for entry in apps/server/bin/mptun-server.js apps/client/bin/mptun-client.js packages/linkem/bin/mptun-linkem.js; do
  name="$(basename "$entry" .js)"
  ln -sf "$repo/$entry" "$bin_dir/$name"
  echo "[install] $bin_dir/$name -> $repo/$entry"
done
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "[install] note: $bin_dir is not on your PATH; add it, e.g. export PATH=\"$bin_dir:\$PATH\"" ;;
esac
