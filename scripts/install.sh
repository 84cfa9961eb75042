#!/usr/bin/env bash
# Installs Kiln and its test tools into .venv (Python 3.11), from the pins in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  for candidate in python3.11 /usr/bin/python3.11; do
    if command -v "$candidate" >/dev/null 2>&1; then PY=$candidate; break; fi
  done
fi
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Kiln needs Python 3.11"' || {
  echo "Kiln needs Python 3.11 (found $("$PY" --version 2>&1))." >&2; exit 1; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[test]'
# HMI front-end libraries: pinned in package.json/package-lock.json, installed from the npm registry, and their
# dist files copied into static/vendor/ (gitignored) so Kiln serves every asset itself (no CDN).
if [ -f package-lock.json ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is needed for the HMI's front-end libraries (apt-get install npm)." >&2; exit 1; }
  npm ci --no-audit --no-fund --loglevel=error
  mkdir -p static/vendor/uplot
  cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE \
    static/vendor/uplot/
fi
echo "Installed Kiln into $VENV"
