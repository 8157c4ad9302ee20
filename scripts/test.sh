#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine that has only Node 20 and npm,
# then builds and runs every test. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

if ! command -v pnpm >/dev/null 2>&1; then
  echo "[setup] installing pnpm"
  $SUDO npm install -g pnpm@9.15.9 --no-fund --no-audit
fi

# tshark judges our MPTCP encoder from the outside (tools/test/tshark.test.ts).
if ! command -v tshark >/dev/null 2>&1; then
  echo "[setup] installing tshark"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq tshark >/dev/null
fi

echo "[setup] installing packages"
pnpm install --frozen-lockfile

echo "[test] typecheck and tests"
pnpm test
