#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the HMI browser tests (Playwright drives it; no
# browser is ever downloaded by `playwright install`). Installs the apt package when missing and we are root.
set -euo pipefail
BROWSER=${KILN_CHROMIUM:-/usr/bin/chromium}
works() { [ -x "$BROWSER" ] && "$BROWSER" --headless --no-sandbox --version >/dev/null 2>&1; }
if works; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the HMI browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  if works; then echo "Installed $("$BROWSER" --version 2>/dev/null)"; exit 0; fi
fi
echo "Chromium is missing at $BROWSER and could not be installed: run 'apt-get update && apt-get install chromium'" \
     "as root (or set KILN_CHROMIUM to a Chromium binary), then retry." >&2
exit 1
