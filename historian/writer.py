"""The historian writer: drains the Redis stream into PostgreSQL with COPY, acknowledging only after COMMIT.

One flush = read the oldest stream entries (up to KILN_HISTORIAN_WRITER_BATCH samples), then in ONE database
transaction: COPY the samples (binary format, built with struct, no per-row SQL), record the dirty time
ranges for the rollups, and move the checkpoint to the last entry; COMMIT; only then trim the stream up to that
entry (XTRIM MINID) and lower the buffered-sample count. So:

- PostgreSQL down → the flush fails, nothing is trimmed, the stream keeps growing (up to its quota) and the
  next run starts again from the same oldest entry: order kept, nothing lost.
- Writer killed after COMMIT but before the trim → the next writer finds those entries at or below the
  checkpoint and trims them without writing them again. (Even without the checkpoint a replay could not
  double a sample: hot partitions are unique on (tag_id, ts) and old ones are checked row by row.)
- Only one writer drains at a time (a Redis lease, renewed after every flush), so entries commit in stream order.

The modules: writer_stream (the Redis side: read, decode, trim, dead-letter), writer_store (one flush's
database transaction, fast and slow path), writer_lease (one writer at a time) and this one (the flush and the
run loop).
"""

from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
import redis
from django.db import connection

from historian import writer_store
from historian.buffer import buffer_epoch
from historian.conf import conf
from historian.constants import WRITER_STATS
from historian.writer_lease import WriterLease
from historian.writer_store import FlushResult, encode_copy_binary
from historian.writer_store import coverage as _coverage
from historian.writer_stream import DEAD_LETTER_STREAM, decode_entries, id_tuple, read_entries
from historian.writer_stream import dead_letter as _dead_letter
from historian.writer_stream import trim as _trim
from scada.redis import get_redis

logger = logging.getLogger(__name__)

__all__ = ["WriterRun", "FlushResult", "historian_writer_run", "historian_writer_flush", "encode_copy_binary",
           "DEAD_LETTER_STREAM"]


@dataclass
class WriterRun:
    flushes: int = 0
    samples: int = 0
    written: int = 0
    lease: bool = True
    error: str | None = None
    results: list[FlushResult] = field(default_factory=list)


# Errors caused by the content of an entry (undecodable payload, a number PostgreSQL cannot hold). Anything
# else — connection lost, lock timeout, a partition dropped under us — is retried by the next run instead.
_DATA_ERRORS = (psycopg.DataError, struct.error, ValueError, TypeError, OverflowError)


def _is_connection_error(exc: BaseException) -> bool:
    """The connection itself is gone (server down, network, admin shutdown): close it so the next run reconnects."""
    from django.db import InterfaceError, OperationalError

    if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, OperationalError, InterfaceError)):
        return False
    cause = exc if isinstance(exc, psycopg.Error) else (exc.__cause__ or exc)
    sqlstate = getattr(cause, "sqlstate", None)
    # No SQLSTATE: the client lost the server. 08: connection exception. 57P0x: shutdown, cannot connect now.
    return sqlstate is None or sqlstate.startswith("08") or sqlstate.startswith("57P")


def _no_partition(exc: BaseException) -> bool:
    """PostgreSQL found no partition for a row (CheckViolation, raised directly or wrapped by Django)."""
    return isinstance(exc, psycopg.errors.CheckViolation) or isinstance(exc.__cause__, psycopg.errors.CheckViolation)


def _flush_entries(r, entries, epoch: str) -> FlushResult:
    result = FlushResult(entries=len(entries), samples=sum(int(e[1][b"n"]) for e in entries))
    num_rows, str_rows, spans, expired, maybe_null = decode_entries(entries)
    result.expired = expired
    last_id = entries[-1][0].decode()
    if connection.vendor == "postgresql":
        writer_store.ensure_partitions(spans)
        writer_store.commit_postgresql(num_rows, str_rows, spans, epoch, last_id, result, maybe_null)
    else:
        writer_store.commit_other(num_rows, str_rows, epoch, last_id, result)
    committed_at = time.time()
    # The sample counts as safe from here on; the trim below may fail (Redis gone) and the checkpoint covers it.
    result.latencies = [(committed_at - id_tuple(e[0])[0] / 1000, int(e[1][b"n"])) for e in entries]
    _trim(r, entries[-1][0])
    return result


def historian_writer_flush(*, r=None, max_samples: int | None = None) -> FlushResult | None:
    """Write the oldest buffered entries (one transaction). None when the buffer is empty.

    Database and connection errors propagate: the caller stops, and the next run starts again from the same
    entry. A data error (an entry whose content cannot be stored) retries the entries one by one, and an entry
    that still fails goes to the dead-letter stream, counted and audited as dropped, so one poisoned batch can
    never stall the buffer.
    """
    r = r or get_redis()
    entries, _ = read_entries(r, max_samples or conf.KILN_HISTORIAN_WRITER_BATCH)
    if not entries:
        return None
    epoch = buffer_epoch(r)
    checkpoint = writer_store.checkpoint_get()
    skipped = 0
    if checkpoint and checkpoint[0] == epoch:
        done = id_tuple(checkpoint[1])
        committed = [e for e in entries if id_tuple(e[0]) <= done]
        if committed:
            # Written by a writer that stopped before trimming: trim, never write twice.
            n = sum(int(e[1][b"n"]) for e in committed)
            _trim(r, committed[-1][0])
            entries = entries[len(committed):]
            if not entries:
                return FlushResult(entries=len(committed), samples=n, skipped_committed=n)
            skipped = n
    try:
        result = _flush_entries(r, entries, epoch)
        result.skipped_committed = skipped
        return result
    except _DATA_ERRORS as exc:
        if len(entries) == 1:
            return FlushResult(entries=1, dead_lettered=_dead_letter(r, entries[0], f"{type(exc).__name__}: {exc}"))
        logger.warning("Historian flush of %d entries failed (%s); retrying entry by entry", len(entries), exc)
    # Find the entry the data error came from; the others are written normally, in order.
    total = FlushResult()
    for entry in entries:
        try:
            one = _flush_entries(r, [entry], epoch)
        except _DATA_ERRORS as exc:
            total.dead_lettered += _dead_letter(r, entry, f"{type(exc).__name__}: {exc}")
            continue
        total.entries += one.entries
        total.samples += one.samples
        total.written += one.written
        total.unknown_tag += one.unknown_tag
        total.latencies += one.latencies
    return total


def _record_stats(r, result: FlushResult) -> None:
    now = time.time()
    try:
        pipe = r.pipeline(transaction=False)
        pipe.hset(WRITER_STATS, mapping={
            "last_commit": now,
            "last_commit_iso": datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "last_error": "",
            "last_flush_samples": result.samples,
            "last_flush_max_latency": max((lat for lat, _ in result.latencies), default=0.0),
        })
        pipe.hincrby(WRITER_STATS, "committed_total", result.written)
        if result.unknown_tag:
            pipe.hincrby(WRITER_STATS, "unknown_tag_total", result.unknown_tag)
        if result.expired:
            pipe.hincrby(WRITER_STATS, "expired_total", result.expired)
        pipe.execute()
    except redis.RedisError:
        pass


def _note_error(r, run: WriterRun, exc: Exception) -> None:
    run.error = f"{type(exc).__name__}: {str(exc)[:300]}"
    logger.warning("Historian writer stopped: %s", run.error)
    if _is_connection_error(exc):
        connection.close()  # a dead connection is not reused; the next run reconnects
    try:
        r.hset(WRITER_STATS, mapping={"last_error": run.error, "last_error_at": time.time()})
    except redis.RedisError:
        pass  # Redis down too: nothing is buffered or written either; the status page says so


def historian_writer_run(*, budget_seconds: float | None = None, max_samples: int | None = None,
                         use_lease: bool = True, keep_results: bool = False) -> WriterRun:
    """Drain the buffer until it is empty or the budget is spent (the writer task, and the benchmark).

    Returns at once when another writer holds the lease. A database error ends the run with the error noted;
    the entries stay in the buffer for the next run.
    """
    r = get_redis()
    budget = budget_seconds if budget_seconds is not None else conf.KILN_HISTORIAN_WRITER_RUN_SECONDS
    run = WriterRun()
    lease = WriterLease(r)
    if use_lease:
        try:
            acquired = lease.acquire()
        except Exception as exc:
            _note_error(r, run, exc)
            return run
        if not acquired:
            run.lease = False
            return run
    deadline = time.monotonic() + budget
    retried = False
    try:
        while time.monotonic() < deadline:
            try:
                result = historian_writer_flush(r=r, max_samples=max_samples)
            except Exception as exc:
                if _no_partition(exc) and not retried:
                    # A sample with no partition although the cache said there was one (dropped behind the
                    # writer's back, a restored database, another process's rolled-back DDL): the flush rolled
                    # back whole, so read the catalog again and flush the same entries once more at once.
                    logger.info("Historian flush found a partition missing; re-reading partitions and retrying")
                    _coverage.forget()
                    retried = True
                    continue
                _note_error(r, run, exc)
                if _no_partition(exc):
                    _coverage.forget()  # still missing: the next run reads the catalog again
                break
            retried = False
            if result is None:
                break
            run.flushes += 1
            run.samples += result.samples
            run.written += result.written
            if keep_results:
                run.results.append(result)
            _record_stats(r, result)
            if use_lease and not lease.renew():
                logger.warning("Historian writer lost its lease; stopping")
                break
    finally:
        if use_lease:
            lease.release()
    return run
