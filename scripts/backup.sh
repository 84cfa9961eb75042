#!/usr/bin/env bash
# Back up Kiln's PostgreSQL database: configuration, accounts, the audit trail and history (docs/deployment.md).
#   bash scripts/backup.sh DIR        writes DIR/kiln-<UTC time>.dump (pg_dump custom format) and, next to it,
#                                     the signed audit checkpoint taken just before the dump (.checkpoint.json)
# Run it with the production environment (DATABASE_URL, SECRET_KEY/KILN_AUDIT_KEY: the EnvironmentFile).
# The checkpoint is the dump's own proof: restore.sh verifies the restored trail against it, so a dump whose
# newest audit records were cut off is caught. Keep both files together, and off this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/backup.sh DIR}
: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL database to back up}"
case "$DATABASE_URL" in
  postgres://*|postgresql://*) ;;
  *) echo "backup.sh backs up PostgreSQL only (the SQLite demo database is one file: copy it)" >&2; exit 2 ;;
esac
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
base="$out/kiln-$stamp"
.venv/bin/python manage.py audit_checkpoint --output "$base.checkpoint.json" >/dev/null 2>&1
# Custom format: compressed, restorable table by table; --no-owner so it restores under any role.
pg_dump --format=custom --no-owner --no-privileges --file "$base.dump.part" "$DATABASE_URL"
mv "$base.dump.part" "$base.dump"
echo "$base.dump"
