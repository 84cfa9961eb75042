#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 for the test suite; starts the local cluster if it is down.
set -euo pipefail
ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ready; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 50); do ready && { echo "Started PostgreSQL $version"; exit 0; }; sleep 0.2; done
fi
echo "PostgreSQL does not answer on 127.0.0.1:5432; start it (or set DATABASE_URL) and retry." >&2
exit 1
