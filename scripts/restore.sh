#!/usr/bin/env bash
# Restore a backup.sh dump into an EMPTY PostgreSQL database, then prove the audit trail intact there.
#   bash scripts/restore.sh FILE.dump     (DATABASE_URL names the new, empty database: createdb it first)
# Refuses a database that already has tables, restores in one transaction (all or nothing), then runs
# `manage.py audit_verify`, with the checkpoint backup.sh took beside the dump when it is there.
# Start Kiln's processes on the restored database only after this prints "Audit trail intact".
set -euo pipefail
cd "$(dirname "$0")/.."
dump=${1:?usage: scripts/restore.sh FILE.dump}
: "${DATABASE_URL:?DATABASE_URL must name the empty PostgreSQL database to restore into}"
[[ -f "$dump" ]] || { echo "no such dump: $dump" >&2; exit 2; }
tables=$(psql "$DATABASE_URL" -XAtc "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')")
if [[ "$tables" != 0 ]]; then
  echo "refusing: the target database already has $tables tables; restore into a new, empty database" >&2
  exit 3
fi
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname "$DATABASE_URL" "$dump"
checkpoint="${dump%.dump}.checkpoint.json"
if [[ -f "$checkpoint" ]]; then
  .venv/bin/python manage.py audit_verify --checkpoint "$checkpoint"
else
  .venv/bin/python manage.py audit_verify
fi
