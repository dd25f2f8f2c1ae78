#!/usr/bin/env bash
# The browser the browser tests (tests/browser) and `make screenshots` drive: Debian's own `chromium`,
# from the distribution's package archive like PostgreSQL and Redis. Never `playwright install`: it downloads
# a browser build from outside the package registries, which CI machines cannot reach (and should not trust).
# Idempotent and non-interactive: does nothing when the browser is there already.
set -euo pipefail

BROWSER="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$BROWSER" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "No $BROWSER and no apt-get: install Debian's chromium package (or set CHROMIUM_PATH)." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo -n"
fi
echo "Installing Debian's chromium for the browser tests..."
export DEBIAN_FRONTEND=noninteractive
# Another apt-get on the machine holds the dpkg lock for a while: wait for it rather than fail.
APT=(apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
$SUDO "${APT[@]}" update -qq
# Fonts, so that pages and screenshots render text instead of empty boxes.
$SUDO "${APT[@]}" install -y -qq --no-install-recommends chromium fonts-liberation fonts-dejavu-core >/dev/null
test -x "$BROWSER" || { echo "chromium installed, but $BROWSER is missing" >&2; exit 1; }
"$BROWSER" --version
