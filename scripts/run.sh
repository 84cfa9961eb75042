#!/usr/bin/env bash
# make run: the demo plant on this machine. SQLite, a simulated PLC, demo users; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=${DEBUG:-1}
export KILN_PORT=${KILN_PORT:-8000}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export DATABASE_URL=${DATABASE_URL:-sqlite:///$PWD/kiln.sqlite3}
export PLCSIM_PORT=${PLCSIM_PORT:-5020}
export OPCUASIM_PORT=${OPCUASIM_PORT:-4840}
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
# KILN_BIND=0.0.0.0 (or one LAN address) lets a tablet on the plant network reach the demo: see README for the
# risk. Django then also has to answer to this machine's addresses.
export KILN_BIND=${KILN_BIND:-127.0.0.1}
URLS="http://127.0.0.1:${KILN_PORT}/"
READY_HOST=127.0.0.1
if [[ "$KILN_BIND" != 127.0.0.1 && "$KILN_BIND" != localhost ]]; then
  if [[ "$KILN_BIND" == 0.0.0.0 ]]; then LAN=$(hostname -I 2>/dev/null | awk '{print $1}'); else LAN=$KILN_BIND; READY_HOST=$KILN_BIND; fi
  if [[ -z "${ALLOWED_HOSTS:-}" ]]; then
    export ALLOWED_HOSTS="localhost,127.0.0.1,[::1],$(hostname)${LAN:+,$LAN}"
  fi
  [[ -n "${LAN:-}" ]] && URLS="$URLS  and  http://${LAN}:${KILN_PORT}/ (from the LAN)"
fi
MSG=$(cat <<EOM

  Kiln is running at   ${URLS}
  API docs:            http://127.0.0.1:${KILN_PORT}/api/docs/
  Django admin:        http://127.0.0.1:${KILN_PORT}/admin/
  Demo logins (user / password):
    operator / kiln-operator      supervisor / kiln-supervisor
    engineer / kiln-engineer      admin / kiln-admin
  Demo alarm: sign in as supervisor, click the reactor setpoint on Overview, write 100 (HI at 85 °C in ~1 min).
  Ctrl-C stops all of it.
EOM
)
echo "${MSG/Kiln is running at /Kiln is starting at}"
echo
exec .venv/bin/python scripts/procrun.py Procfile --ready-url "http://${READY_HOST}:${KILN_PORT}/api/system/health" \
  --ready-message "$MSG" --stop-last plcsim opcuasim
