"""Pacing of a report's PostgreSQL work, so a long report never takes the database from the web process.

The reports worker runs niced (Procfile), but its queries run in a PostgreSQL backend at normal priority: a long
history read is the database's CPU for a while, and the API's queries wait behind it. Two measures, applied only
around a run the worker generates (reports.tasks), never to a small CSV a request writes itself:

- a statement-level yield: after each statement the worker sleeps KILN_REPORTS_DB_YIELD_PERCENT % of the time
  the statement took (100: as long again), so report work holds its backend at most half the time at 100 %;
- a lower priority for that backend: when PostgreSQL runs on this host (a Unix socket or loopback address) the
  backend process serving the worker's connection is reniced to KILN_REPORTS_DB_NICE, where the OS permits it
  (the same user, or CAP_SYS_NICE); otherwise this is logged once and skipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

__all__ = ["database_paced", "backend_renice"]

logger = logging.getLogger(__name__)
_LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")
_MIN_STATEMENT_S = 0.002  # shorter statements are not worth a sleep (a run's bookkeeping UPDATEs)
_MAX_SLEEP_S = 5.0
_warned: set[str] = set()


def _warn_once(key: str, message: str, *args) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def backend_renice(nice: int, conn=None) -> bool:
    """Renice the PostgreSQL backend serving `conn` (this thread's default connection) to `nice`, never raising
    its priority; whether it is now at least that nice. Only for a server on this host: a remote backend's pid
    means nothing here, so it is never touched."""
    conn = conn or connection
    if nice <= 0 or conn.vendor != "postgresql" or not hasattr(os, "setpriority"):
        return False
    host = str(conn.settings_dict.get("HOST") or "")
    if not (host in _LOCAL_HOSTS or host.startswith("/")):
        return False
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        # The pid must be a PostgreSQL process of this host (a container's PostgreSQL on a published port is not).
        if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"postgres"):
            return False
        if os.getpriority(os.PRIO_PROCESS, pid) < nice:
            os.setpriority(os.PRIO_PROCESS, pid, nice)
        return True
    except OSError as exc:  # not permitted (another user, no CAP_SYS_NICE), or no /proc
        _warn_once("renice", "Reports: cannot renice the PostgreSQL backend (%s); only the statement yield paces "
                   "report queries", exc)
        return False


class _StatementYield:
    """A connection execute wrapper: after each statement, sleep `ratio` times as long as it took."""

    def __init__(self, ratio: float):
        self.ratio = ratio
        self.slept = 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.monotonic() - start
            if took >= _MIN_STATEMENT_S:
                pause = min(_MAX_SLEEP_S, took * self.ratio)
                self.slept += pause
                time.sleep(pause)


@contextlib.contextmanager
def database_paced():
    """Around a worker's report run: its backend reniced where possible, and a yield after each statement."""
    backend_renice(settings.KILN_REPORTS_DB_NICE)
    ratio = settings.KILN_REPORTS_DB_YIELD_PERCENT / 100
    if ratio <= 0:
        yield None
        return
    pacer = _StatementYield(ratio)
    with connection.execute_wrapper(pacer):
        yield pacer
