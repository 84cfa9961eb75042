"""Compaction runs (PostgreSQL): move sample rows older than KILN_HISTORIAN_COMPACT_AFTER_HOURS into chunks
(historian.chunks), one window of KILN_HISTORIAN_COMPACT_BATCH minutes per transaction, oldest first, for at
most KILN_HISTORIAN_COMPACT_BUDGET seconds a run (beat runs it every few minutes; the next run goes on).

- Idempotent: a window without rows costs one probe; a run after a crash finds the rows where they were.
- One compactor at a time: each window's transaction takes an advisory lock (try: a second run just stops).
- Never blocks ingest: the writer's fast path only writes samples newer than half the compaction age, and a
  compaction window only holds rows older than the whole age; late samples (the slow path) check chunks too.
- Visible: each run's figures go to Redis (kiln:hist:compact:stats, shown in /api/system/status) and a run
  that moved samples leaves one audit record (historian.compact).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import redis
from django.db import OperationalError, connection, transaction

from historian.chunks import compact_window
from historian.conf import conf, statement_timeout_local
from historian.constants import COMPACT_LOCK_KEY, COMPACT_STATS
from historian.partitions import SAMPLE_TABLE, partitions_list
from scada.redis import get_redis

logger = logging.getLogger(__name__)

__all__ = ["CompactRun", "historian_compact", "compact_windows"]


@dataclass
class CompactRun:
    """What one run did: windows compacted, samples moved, seconds spent, and whether another run held the lock."""

    windows: int = 0
    values: int = 0
    seconds: float = 0.0
    busy: bool = False
    out_of_budget: bool = False
    partitions: list[str] = field(default_factory=list)


def _batch() -> timedelta:
    minutes = conf.KILN_HISTORIAN_COMPACT_BATCH
    return timedelta(minutes=min(max(int(minutes), 1), 1440))  # a chunk never spans more than a day


def _floor(moment: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    ts = moment.timestamp()
    return datetime.fromtimestamp(ts - ts % seconds, tz=UTC)


def _relation_sizes() -> dict[str, int]:
    """Bytes on disk of each sample partition: an emptied, vacuumed partition has none and needs no probe."""
    with connection.cursor() as cur:
        cur.execute("SELECT c.relname, pg_relation_size(c.oid) FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass", [SAMPLE_TABLE])
        return dict(cur.fetchall())


def _partition_windows(horizon: datetime) -> list[tuple[str, datetime, datetime]]:
    """(partition, start, limit) of each sample partition that may hold rows before `horizon`, oldest first."""
    sizes = _relation_sizes()
    return [(p.name, p.start, min(p.end, horizon)) for p in partitions_list(SAMPLE_TABLE)
            if p.start < horizon and sizes.get(p.name)]


def _next_row(lo: datetime, limit: datetime) -> datetime | None:
    """The time of the first row in [lo, limit), if any (the BRIN index on ts keeps this to the pages that may)."""
    with connection.cursor() as cur:
        cur.execute("SELECT min(ts) FROM historian_sample WHERE ts >= %s AND ts < %s", [lo, limit])
        return cur.fetchone()[0]


def compact_windows(horizon: datetime):
    """Yield (partition, lo, hi) for each batch window before `horizon` that holds rows, oldest first.

    Empty stretches (already compacted, or never written) are skipped with one look-up each, not a probe per
    window; a window is aligned to the batch (on the epoch) and never crosses a partition's edge.
    """
    step = _batch()
    for name, lo, limit in _partition_windows(horizon):
        while lo < limit:
            first = _next_row(lo, limit)
            if first is None:
                break
            lo = max(lo, _floor(first, step))
            hi = min(_floor(lo, step) + step, limit)
            yield name, lo, hi
            lo = hi


def _compact_one(lo: datetime, hi: datetime) -> int | None:
    """One window in its own REPEATABLE READ transaction (historian.chunks.compact_window); None if another
    compactor holds the lock. Inside an outer transaction (tests) it runs in that one's isolation."""
    own_transaction = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cur:
        if own_transaction:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        statement_timeout_local(cur)
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [COMPACT_LOCK_KEY])
        if not cur.fetchone()[0]:
            return None
        return compact_window(lo, hi)


def _vacuum(name: str) -> None:
    """Give an emptied partition's pages back (VACUUM truncates trailing empty pages); outside any transaction."""
    if connection.in_atomic_block:
        return  # inside a test's transaction: VACUUM cannot run there, and nothing needs the space
    with connection.cursor() as cur:
        cur.execute(f"VACUUM {name}")  # noqa: S608 - a partition name from the catalog


def _record(run: CompactRun, error: str | None) -> None:
    try:
        r = get_redis()
        pipe = r.pipeline(transaction=False)
        pipe.hset(COMPACT_STATS, mapping={
            "last_run": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "last_values": run.values, "last_windows": run.windows, "last_seconds": round(run.seconds, 3),
            "last_error": error or "",
        })
        pipe.hincrby(COMPACT_STATS, "values_total", run.values)
        pipe.execute()
    except redis.RedisError:
        pass  # the figures are informative; compaction itself is in the database


def historian_compact(*, now: datetime | None = None, budget_seconds: float | None = None) -> CompactRun:
    """Compact every row older than the compaction age, oldest window first, within the budget."""
    run = CompactRun()
    hours = conf.KILN_HISTORIAN_COMPACT_AFTER_HOURS
    if connection.vendor != "postgresql" or not hours:
        return run
    now = now or datetime.now(tz=UTC)
    horizon = _floor(now - timedelta(hours=hours), _batch())
    budget = budget_seconds if budget_seconds is not None else conf.KILN_HISTORIAN_COMPACT_BUDGET
    t0 = time.monotonic()
    error = None
    try:
        touched = []
        for name, lo, hi in compact_windows(horizon):
            if time.monotonic() - t0 > budget:
                run.out_of_budget = True
                break
            try:
                moved = _compact_one(lo, hi)
            except OperationalError as exc:
                if not isinstance(exc.__cause__, psycopg.errors.SerializationFailure):
                    raise
                # A row of the window was deleted meanwhile (a tag's history, retention): next run, next snapshot.
                logger.info("Historian compaction of %s..%s postponed: %s", lo, hi, exc)
                continue
            if moved is None:
                run.busy = True
                break
            run.windows += 1
            run.values += moved
            if name not in touched:
                touched.append(name)
        for name in touched:
            _vacuum(name)
        run.partitions = touched
    except Exception as exc:  # noqa: BLE001 - noted and re-raised: the task fails visibly, the next run resumes
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
        raise
    finally:
        run.seconds = time.monotonic() - t0
        _record(run, error)
    if run.values:
        from accounts.audit import audit_record  # the audit service; imported here to keep this module light

        audit_record(action="historian.compact", object_type="historian", object_id="historian_chunk",
                     new_value={"samples": run.values, "windows": run.windows, "partitions": run.partitions,
                                "before": horizon.isoformat(), "seconds": round(run.seconds, 3)},
                     reason=f"KILN_HISTORIAN_COMPACT_AFTER_HOURS={hours}")
        logger.info("Historian compacted %d samples in %d windows (%.1f s)", run.values, run.windows, run.seconds)
    return run
