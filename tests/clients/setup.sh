#!/usr/bin/env bash
# Installs what tests/clients/ runs besides Python: the pinned npm packages (the vendors'
# JavaScript clients and puppeteer-core, from package-lock.json) and Debian's Chromium.
# Run by `make clients`, a prerequisite of `make test`. Quick when all is installed already.
set -euo pipefail
cd "$(dirname "$0")"

fail() { echo "tests/clients: $*" >&2; exit 1; }

command -v node >/dev/null && command -v npm >/dev/null \
  || fail "Node.js 18+ with npm is needed (Debian: apt-get install nodejs npm)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' \
  || fail "Node.js 18+ is needed, found $(node --version)"

if [ ! node_modules/.installed -nt package-lock.json ]; then
  npm ci --no-audit --no-fund --no-update-notifier --loglevel=error
  touch node_modules/.installed
fi

if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  [ "$(id -u)" = 0 ] \
    || fail "Chromium is needed: run 'sudo apt-get install chromium' (or set CHROMIUM to a binary)"
  echo "tests/clients: installing Debian's chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
