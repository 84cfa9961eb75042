"""Compaction runs (PostgreSQL): move sample rows older than KILN_HISTORIAN_COMPACT_AFTER_HOURS into chunks
(historian.chunks), oldest first, for at most KILN_HISTORIAN_COMPACT_BUDGET seconds a run (beat runs it every
few minutes; the next run goes on). Two ways, one chunk per tag per KILN_HISTORIAN_COMPACT_BATCH window either way:

- A closed partition (wholly older than the age: a past day, or a backlog after an outage or an upgrade) in one
  transaction: every window packed, then the partition TRUNCATEd instead of its rows deleted. No per-row DELETE,
  no dead rows, no VACUUM: measured about twice as fast per value (bench/bench_historian_storage.py), and it
  gives the partition's disk space back at once. Its rows are not locked while they are packed (READ COMMITTED:
  a late sample may still arrive); then the partition is locked against writes (EXCLUSIVE: reads go on), its
  rows counted per tag against what was packed, and only if they are the same rows is it truncated (ACCESS
  EXCLUSIVE for an instant, with a lock timeout). A late sample or a delete meanwhile, or a lock not granted
  in time: the transaction rolls back and that partition is compacted window by window instead.
- The partition still being written (today's): one window per REPEATABLE READ transaction, packed then deleted
  (historian.chunks.compact_window); the rows it leaves dead are reused, and the whole partition is truncated
  once it closes.

- Idempotent: a window without rows costs one probe; a run after a crash finds the rows where they were.
- One compactor at a time: each transaction takes an advisory lock (try: a second run just stops). The writer
  takes the same lock shared while it COPYs late samples (historian.writer_store._late_copy_safe); a run that
  finds it taken stops too, and the next one goes on.
- Never blocks ingest: the writer's fast path only writes samples newer than half the compaction age, and a
  compaction window only holds rows older than the whole age; late samples check chunks too. Only a late sample
  for a closed partition arriving while that partition is counted and truncated waits (for that moment; in
  steady state a closed partition holds the last couple of hours of rows, a backlog partition more).
- Visible: each run's figures go to Redis (kiln:hist:compact:stats, shown in /api/system/status) and a run
  that moved samples leaves one audit record (historian.compact).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import redis
from django.db import OperationalError, connection, transaction

from historian.chunks import compact_window, pack_window
from historian.conf import conf, statement_timeout_local
from historian.constants import COMPACT_LOCK_KEY, COMPACT_STATS
from historian.partitions import SAMPLE_TABLE, partitions_list
from scada.redis import get_redis

logger = logging.getLogger(__name__)

__all__ = ["CompactRun", "historian_compact"]


@dataclass
class CompactRun:
    """What one run did: windows compacted, samples moved, seconds spent, and whether another run held the lock."""

    windows: int = 0
    values: int = 0
    seconds: float = 0.0
    busy: bool = False
    out_of_budget: bool = False
    partitions: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)  # closed partitions compacted whole and truncated


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


def _partition_windows(horizon: datetime, budget: float) -> list[tuple[str, datetime, datetime, bool]]:
    """(partition, start, limit, closed) of each sample partition that may hold rows before `horizon`, oldest
    first. `closed`: the whole partition lies before the horizon and is small enough (~60 B a row on disk) to
    be packed in one transaction within the run's budget at a million values a second; a larger one (a week's
    partition of a large plant) is compacted window by window."""
    sizes = _relation_sizes()
    return [(p.name, p.start, min(p.end, horizon), p.end <= horizon and sizes[p.name] / 60 <= budget * 1e6)
            for p in partitions_list(SAMPLE_TABLE) if p.start < horizon and sizes.get(p.name)]


def _next_row(lo: datetime, hi: datetime, limit: datetime, table: str = SAMPLE_TABLE) -> datetime | None:
    """The time of the first row in [lo, limit), if any. The window [lo, hi) is looked at first: the BRIN index
    on ts keeps that to the window's own pages, where asking for all of [lo, limit) at once would read every page
    up to the limit for each window (measured a quarter of all compaction time on a day of windows)."""
    with connection.cursor() as cur:
        for a, b in ((lo, hi), (hi, limit)):
            if a >= b:
                continue
            cur.execute(f"SELECT min(ts) FROM {table} WHERE ts >= %s AND ts < %s", [a, b])  # noqa: S608
            first = cur.fetchone()[0]
            if first is not None:
                return first
    return None


def _windows(lo: datetime, limit: datetime, table: str = SAMPLE_TABLE):
    """Yield each batch window [lo, hi) in [lo, limit) that holds rows, oldest first: aligned to the batch (on
    the epoch), never crossing `limit`; an empty stretch is skipped with one look-up, not a probe per window."""
    step = _batch()
    while lo < limit:
        first = _next_row(lo, min(_floor(lo, step) + step, limit), limit, table)
        if first is None:
            break
        lo = max(lo, _floor(first, step))
        hi = min(_floor(lo, step) + step, limit)
        yield lo, hi
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


class _PartitionChanged(Exception):
    """Rows of a closed partition changed while it was being packed: roll back, compact it window by window."""


# How long the truncation waits for the partition's lock (a query or a late write holding it) before the
# partition is left to the window-by-window way: short, because while it waits newer requests queue behind it.
TRUNCATE_LOCK_TIMEOUT = "2s"


def _compact_partition(name: str, start: datetime, end: datetime) -> tuple[int, int] | None:
    """A closed partition in one transaction: every window packed, the partition verified and truncated (see the
    module's docstring). Returns (windows, samples), or None if another compactor holds the lock. Raises
    _PartitionChanged, or OperationalError for a lock not granted in time; either way nothing is changed."""
    with transaction.atomic(), connection.cursor() as cur:
        statement_timeout_local(cur)
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [COMPACT_LOCK_KEY])
        if not cur.fetchone()[0]:
            return None
        cur.execute("SET LOCAL work_mem = '256MB'")
        packed: Counter = Counter()
        windows = 0
        for lo, hi in _windows(start, end, name):
            packed.update(pack_window(cur, lo, hi, table=name))
            windows += 1
        cur.execute(f"SET LOCAL lock_timeout = '{TRUNCATE_LOCK_TIMEOUT}'")
        # EXCLUSIVE stops writes but not reads while the rows are counted; every row of the partition is in
        # [start, end), so equal counts per tag mean the packed rows are all the rows.
        cur.execute(f"LOCK TABLE {name} IN EXCLUSIVE MODE")  # noqa: S608 - a partition name from the catalog
        cur.execute(f"SELECT tag_id, count(*) FROM {name} GROUP BY tag_id")  # noqa: S608
        if Counter(dict(cur.fetchall())) != packed:
            raise _PartitionChanged(name)
        # TRUNCATE is not MVCC-safe: a reader whose snapshot predates this commit would find neither the rows
        # nor the chunks. history_query's multi-statement snapshot therefore locks the sample table first.
        cur.execute(f"TRUNCATE {name}")  # noqa: S608
        return windows, sum(packed.values())


def _vacuum(name: str) -> None:
    """Make the pages of the deleted rows reusable by new rows; outside any transaction.

    TRUNCATE false: giving trailing empty pages back to the file system needs the partition's ACCESS EXCLUSIVE
    lock, which VACUUM would wait up to 5 s for behind any reader; an open partition's last pages hold its newest
    rows anyway, and a closed one is truncated whole by the next run (it still has pages, so it is looked at).
    """
    if connection.in_atomic_block:
        return  # inside a test's transaction: VACUUM cannot run there, and nothing needs the space
    with connection.cursor() as cur:
        cur.execute(f"VACUUM (TRUNCATE false) {name}")  # noqa: S608 - a partition name from the catalog


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
        for name, start, limit, closed in _partition_windows(horizon, budget):
            if time.monotonic() - t0 > budget:
                run.out_of_budget = True
                break
            if closed:
                try:
                    whole = _compact_partition(name, start, limit)
                except (_PartitionChanged, OperationalError) as exc:
                    if isinstance(exc, OperationalError) and not isinstance(
                            exc.__cause__, psycopg.errors.LockNotAvailable):
                        raise
                    logger.info("Historian partition %s compacted window by window: %s", name, exc)
                else:
                    if whole is None:
                        run.busy = True
                        break
                    if whole[1]:
                        run.windows += whole[0]
                        run.values += whole[1]
                        run.truncated.append(name)
                        touched.append(name)
                    continue
            for lo, hi in _windows(start, limit):
                if time.monotonic() - t0 > budget:
                    run.out_of_budget = True
                    break
                try:
                    moved = _compact_one(lo, hi)
                except OperationalError as exc:
                    if not isinstance(exc.__cause__, psycopg.errors.SerializationFailure):
                        raise
                    # A row of the window was deleted meanwhile (a tag's history, retention): next run, next
                    # snapshot.
                    logger.info("Historian compaction of %s..%s postponed: %s", lo, hi, exc)
                    continue
                if moved is None:
                    run.busy = True
                    break
                run.windows += 1
                run.values += moved
                if name not in touched:
                    touched.append(name)
            if run.busy or run.out_of_budget:
                break
        for name in touched:
            if name not in run.truncated:
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
