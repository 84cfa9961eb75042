"""Historian configuration: each value from Django settings if set there, else from the environment.

The variables are listed in docs/configuration.md. They are read on every call (not at import) so tests can
override them with pytest-django's `settings` fixture and a running process picks up nothing stale.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from scada.settings import envint

__all__ = ["conf", "statement_timeout_local"]

# name → (default, minimum). All integers; 0 means "off" where the docs say so.
_DEFAULTS: dict[str, tuple[int, int]] = {
    # Store and forward: most samples the Redis buffer may hold before new batches are dropped (counted, audited).
    "KILN_HISTORIAN_BUFFER_QUOTA": (5_000_000, 1_000),
    # Percentage of the quota at which /api/system/status reports the historian as degraded.
    "KILN_HISTORIAN_BUFFER_WARN_PERCENT": (80, 1),
    # Writer: samples per COPY transaction, and how long one scheduled writer run may keep draining.
    "KILN_HISTORIAN_WRITER_BATCH": (50_000, 100),
    "KILN_HISTORIAN_WRITER_RUN_SECONDS": (25, 1),
    # Partitions: span (1 = daily, 7 = weekly from Monday), created this many days ahead by beat.
    "KILN_HISTORIAN_PARTITION_DAYS": (1, 1),
    "KILN_HISTORIAN_PARTITIONS_AHEAD_DAYS": (3, 1),
    # A partition older than this is rewritten sorted by (tag, time) with a BRIN index (0 = never).
    "KILN_HISTORIAN_COMPACT_AFTER_HOURS": (48, 0),
    # Retention of raw samples and 1-minute rollups, and of 1-hour rollups, in days (0 = keep forever).
    "KILN_HISTORIAN_RETENTION_DAYS": (730, 0),
    "KILN_HISTORIAN_ROLLUP_RETENTION_DAYS": (0, 0),
    # Rollups: one transaction recomputes at most this many minutes of dirty raw data.
    "KILN_HISTORIAN_ROLLUP_CHUNK_MINUTES": (60, 1),
    # "Store at least every N minutes" default for tags without their own setting (0 = off).
    "KILN_HISTORIAN_STORE_EVERY_MINUTES": (60, 0),
    # Statement timeout for the writer's COPY transaction and for maintenance (partitions, CLUSTER, rollups), in
    # ms; they replace the process-wide DB_STATEMENT_TIMEOUT_MS, which is sized for web requests (0 = none).
    "KILN_HISTORIAN_STATEMENT_TIMEOUT_MS": (600_000, 0),
    # Queries: most points one request may return, and most tags in one /api/history request.
    "KILN_HISTORY_MAX_POINTS": (100_000, 100),
    "KILN_HISTORY_MAX_TAGS": (100, 1),
}


class _Conf:
    def __getattr__(self, name: str) -> int:
        if name not in _DEFAULTS:
            raise AttributeError(name)
        default, minimum = _DEFAULTS[name]
        value = getattr(settings, name, None)
        if value is None:
            return envint(name, default, minimum=minimum)
        if not isinstance(value, int) or value < minimum:
            raise ImproperlyConfigured(f"{name} must be an integer of at least {minimum}, got {value!r}")
        return value


conf = _Conf()


def statement_timeout_local(cur) -> None:
    """Give the open transaction the historian's own statement timeout (SET LOCAL: it ends with the transaction).

    A COPY of a large backlog or a CLUSTER of a day's partition legitimately outlasts the few seconds that
    DB_STATEMENT_TIMEOUT_MS allows a web request; cancelling them would only make the writer retry forever.
    """
    cur.execute(f"SET LOCAL statement_timeout = {int(conf.KILN_HISTORIAN_STATEMENT_TIMEOUT_MS)}")
