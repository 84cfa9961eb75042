#!/usr/bin/env bash
# make run: the demo plant on this machine. SQLite, a simulated PLC, demo users; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=${DEBUG:-1}
export KILN_PORT=${KILN_PORT:-8000}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export DATABASE_URL=${DATABASE_URL:-sqlite:///$PWD/kiln.sqlite3}
export PLCSIM_PORT=${PLCSIM_PORT:-5020}
export PYTHONUNBUFFERED=1
mkdir -p "${KILN_STATE_DIR:-.kiln}"
source scripts/ensure-secrets.sh
bash scripts/ensure-redis.sh
# A new demo database (first run, or kiln.sqlite3 deleted to start over) must not inherit the live values and
# queued tasks an earlier one left in Redis: its tag ids start again at 1 and would show another tag's value.
FRESH=()
if [[ "$DATABASE_URL" == sqlite:///* && ! -e "${DATABASE_URL#sqlite://}" ]]; then FRESH=(--fresh-database); fi
.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py demo_load "${FRESH[@]}"
cat <<MSG

  Kiln is starting at  http://127.0.0.1:${KILN_PORT}/
  API docs:            http://127.0.0.1:${KILN_PORT}/api/docs/
  Django admin:        http://127.0.0.1:${KILN_PORT}/admin/
  Demo logins (user / password):
    operator / kiln-operator      supervisor / kiln-supervisor
    engineer / kiln-engineer      admin / kiln-admin
  Ctrl-C stops all of it.

MSG
exec .venv/bin/honcho -f Procfile start
