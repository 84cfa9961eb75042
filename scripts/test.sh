#!/usr/bin/env bash
# The whole test suite against real PostgreSQL and Redis (make test).
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${KILN_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kiln}
export REDIS_URL=${KILN_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
unset DEBUG SECRET_KEY
bash scripts/ensure-postgres.sh
bash scripts/ensure-redis.sh
if [ -f scripts/ensure-browser.sh ]; then bash scripts/ensure-browser.sh; fi
.venv/bin/ruff check --quiet .
exec .venv/bin/pytest -q -p no:cacheprovider --create-db "$@"
