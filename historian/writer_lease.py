"""The writer's lease: one draining writer at a time, so buffer entries commit in stream order."""

from __future__ import annotations

import logging
import secrets

from django.db import connection

from historian.constants import WRITER_LEASE, WRITER_LEASE_KEY
from scada.redis import lease_acquire, lease_release, lease_renew

logger = logging.getLogger(__name__)

__all__ = ["WriterLease", "LEASE_SECONDS"]

LEASE_SECONDS = 120  # (SQLite demo) longer than any single flush; renewed after each


class WriterLease:
    """One writer at a time, so entries commit in stream order.

    On PostgreSQL: a session advisory lock. It lives and dies with the writer's connection, so a writer killed
    mid-batch (its transaction rolled back by the server) is replaced by the next scheduled run at once.
    Elsewhere (the SQLite demo): a Redis key with a TTL, renewed after every flush.
    """

    def __init__(self, r):
        self.r = r
        self.token = secrets.token_hex(8)
        self.pg = connection.vendor == "postgresql"

    def acquire(self) -> bool:
        if self.pg:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", [WRITER_LEASE_KEY])
                return cur.fetchone()[0]
        return lease_acquire(WRITER_LEASE, self.token, LEASE_SECONDS * 1000, self.r)

    def renew(self) -> bool:
        if self.pg:
            return True  # held as long as the connection is; a lost connection fails the next flush anyway
        return lease_renew(WRITER_LEASE, self.token, LEASE_SECONDS * 1000, self.r)

    def release(self) -> None:
        try:
            if self.pg:
                if connection.connection is not None and connection.is_usable():
                    with connection.cursor() as cur:
                        # Session locks stack: release every hold, so a reused connection never keeps one.
                        for _ in range(8):
                            cur.execute("SELECT pg_advisory_unlock(%s)", [WRITER_LEASE_KEY])
                            if not cur.fetchone()[0]:
                                break
            else:
                lease_release(WRITER_LEASE, self.token, self.r)
        except Exception:  # noqa: BLE001 - a dead connection has released the lock already; a key expires
            logger.debug("Historian writer lease release failed", exc_info=True)
