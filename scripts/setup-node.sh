# Sourced by the other scripts: makes sure pnpm is there (a fresh machine has only Node 20 and
# npm) and sets SUDO for installs when we are not root.
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

if ! command -v pnpm >/dev/null 2>&1; then
  echo "[setup] installing pnpm"
  $SUDO npm install -g pnpm@9.15.9 --no-fund --no-audit
fi
