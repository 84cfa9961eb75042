#!/usr/bin/env bash
# The whole test suite against real PostgreSQL and Redis (make test), after the historian suite on SQLite.
#   bash scripts/test.sh [pytest args]           no args: SQLite historian pass, then the whole suite on
#                                                PostgreSQL; with args: only PostgreSQL, with those args
#   bash scripts/test.sh --sqlite [pytest args]  only the SQLite pass (historian, unless args name test paths)
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${KILN_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kiln}
export REDIS_URL=${KILN_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
unset DEBUG SECRET_KEY
bash scripts/ensure-postgres.sh
bash scripts/ensure-redis.sh
if [ -f scripts/ensure-browser.sh ]; then bash scripts/ensure-browser.sh; fi
.venv/bin/ruff check --quiet .
# make run's demo runs on SQLite, so the historian's SQLite branches (writer, aggregates, rollups, partitions)
# get their own pass; tests marked `postgresql` (COPY, partitions, advisory locks, outages) are left out.
sqlite_pass() {
  DATABASE_URL="sqlite:///${TMPDIR:-/tmp}/kiln-test.sqlite3" KILN_TEST_ALLOW_SQLITE=1 \
    .venv/bin/pytest -q -p no:cacheprovider -m "not postgresql" "$@"
}
if [ "${1:-}" = "--sqlite" ]; then
  shift
  paths=0
  for a in "$@"; do if [[ "$a" != -* && -e "${a%%::*}" ]]; then paths=1; fi; done
  if [ $paths -eq 0 ]; then set -- historian "$@"; fi
  sqlite_pass "$@"
  exit $?
fi
if [ $# -eq 0 ]; then
  # A failure stops here, so the last pytest summary printed is always the one that failed.
  sqlite_pass historian
  echo "--- SQLite historian pass passed; the whole suite on PostgreSQL follows ---"
fi
exec .venv/bin/pytest -q -p no:cacheprovider --create-db "$@"
