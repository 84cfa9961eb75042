#!/usr/bin/env bash
# Production web process (docs/configuration.md, "Production start"): migrate, collect the static files WhiteNoise
# serves with DEBUG off (without them every HMI page is a 500), then daphne. Settings come from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py static_collect  # collectstatic, skipped when nothing changed since the last one
exec .venv/bin/daphne -b "${KILN_BIND:-127.0.0.1}" -p "${KILN_PORT:-8000}" scada.asgi:application
