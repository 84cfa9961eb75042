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

Fast path: COPY straight into the partitioned table. If that hits an existing (tag_id, ts) — a replay, or a
source sending the same timestamp twice — the flush falls back, inside the same transaction, to COPY into a
temporary staging table + INSERT ... SELECT ... ON CONFLICT DO NOTHING. Samples older than half the
compaction age (late backfills, possibly into compacted partitions without a unique index) always take that
slow path, which also checks NOT EXISTS.
"""

from __future__ import annotations

import logging
import secrets
import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
import redis
from django.db import connection, transaction

from historian.buffer import buffer_decode, buffer_epoch
from historian.conf import conf, statement_timeout_local
from historian.constants import (
    BUFFER_COUNT,
    BUFFER_DROPPED,
    BUFFER_DROPPED_TOTAL,
    BUFFER_STREAM,
    WRITER_LEASE,
    WRITER_LEASE_KEY,
    WRITER_LOCK_KEY,
    WRITER_STATS,
)
from historian.partitions import partitions_ensure_for_times, partitions_list
from scada.redis import get_redis, lease_acquire, lease_release, lease_renew

logger = logging.getLogger(__name__)

__all__ = ["WriterRun", "FlushResult", "historian_writer_run", "historian_writer_flush", "encode_copy_binary"]

DEAD_LETTER_STREAM = "kiln:hist:deadletter"
LEASE_SECONDS = 120  # (SQLite demo) longer than any single flush; renewed after each
ENTRIES_PER_READ = 500
PG_EPOCH = 946684800  # 2000-01-01T00:00:00Z, the zero of PostgreSQL's binary timestamps

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
# One row: 4 fields; ts int64 µs since 2000, value float8 (or NULL: length -1), tag_id int4, quality int2.
_ROW = struct.Struct(">hiqidiiih")
_ROW_NULL = struct.Struct(">hiqiiiih")
_COLUMNS = "(ts, value, tag_id, quality)"

# Trim every entry up to ARGV[1] (inclusive; ARGV[2] is the id just after it) and lower the buffered count by
# the samples those entries held, atomically. Idempotent: trimming the same entries twice lowers nothing twice.
_TRIM_LUA = """
local entries = redis.call('XRANGE', KEYS[1], '-', ARGV[1])
local n = 0
for _, e in ipairs(entries) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'n' then n = n + tonumber(f[i + 1]) end
  end
end
if #entries > 0 then
  redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])
  local c = redis.call('DECRBY', KEYS[2], n)
  if c < 0 then redis.call('SET', KEYS[2], 0) end
end
return n
"""


class _Lease:
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


def encode_copy_binary(rows, maybe_null: bool = True) -> bytes:
    """(ts epoch s, value or None, tag_id, quality) rows → a complete binary COPY stream.

    `maybe_null=False` promises that no value is None (the caller knows: every value was a float).
    """
    pack, pack_null = _ROW.pack, _ROW_NULL.pack
    # Microseconds since 2000, rounded half up (int(x + 0.5) is twice as fast as round(); times are after 2000).
    if maybe_null and any(r[1] is None for r in rows):  # rare: samples without a value (BAD)
        body = [pack_null(4, 8, int((t - PG_EPOCH) * 1_000_000 + 0.5), -1, 4, tag_id, 2, quality) if value is None
                else pack(4, 8, int((t - PG_EPOCH) * 1_000_000 + 0.5), 8, value, 4, tag_id, 2, quality)
                for t, value, tag_id, quality in rows]
    else:
        body = [pack(4, 8, int((t - PG_EPOCH) * 1_000_000 + 0.5), 8, value, 4, tag_id, 2, quality)
                for t, value, tag_id, quality in rows]
    return _COPY_SIGNATURE + b"".join(body) + _COPY_TRAILER


def _id_tuple(entry_id: bytes | str) -> tuple[int, int]:
    ms, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")
    return int(ms), int(seq)


@dataclass
class FlushResult:
    """What one flush did. `latencies` holds (seconds from buffer append to commit, samples) per entry."""

    entries: int = 0
    samples: int = 0  # samples read from the stream
    written: int = 0  # rows new in the database
    skipped_committed: int = 0  # samples of entries already committed (checkpoint) and just trimmed
    unknown_tag: int = 0  # samples of tags that no longer exist
    expired: int = 0  # samples older than the retention
    dead_lettered: int = 0
    slow_path: bool = False
    latencies: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class WriterRun:
    flushes: int = 0
    samples: int = 0
    written: int = 0
    lease: bool = True
    error: str | None = None
    results: list[FlushResult] = field(default_factory=list)


class _Coverage:
    """The partitions' time ranges, cached so a flush costs no catalog query unless a sample falls outside."""

    def __init__(self):
        self.ranges: list[tuple[float, float]] = []
        self.loaded_at = 0.0

    def refresh(self):
        self.ranges = [(p.start.timestamp(), p.end.timestamp()) for p in partitions_list()]
        self.loaded_at = time.monotonic()

    def missing(self, times: list[float]) -> list[float]:
        if time.monotonic() - self.loaded_at > 300:
            self.refresh()  # retention may have dropped one; another process may have created some
        ranges = self.ranges
        out = []
        for t in times:
            if not any(a <= t < b for a, b in ranges):
                out.append(t)
        return out


_coverage = _Coverage()


def _ensure_partitions(spans: list[tuple[float, float]]) -> None:
    """Create the partitions a batch needs before its COPY (in their own short transaction, not the writer's)."""
    probes = []
    for lo, hi in spans:
        probes.extend((lo, hi))
        probes.extend(range(int(lo) + 86400, int(hi), 86400))  # a wide backfill entry: every day in between
    missing = _coverage.missing(probes)
    if missing:
        _coverage.refresh()
        missing = _coverage.missing(missing)
    if missing:
        partitions_ensure_for_times(sorted(set(missing)))
        _coverage.refresh()


def _dirty_ranges(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per-entry (min ts, max ts) → a few merged ranges (entries less than a minute apart are merged)."""
    out: list[list[float]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1] + 60:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def _tag_kinds(cur, tag_ids: set[int]) -> tuple[set[int], set[int]]:
    """(existing tag ids, STRING tag ids) among these ids; one indexed query per flush, in the flush's transaction.

    Through tags' model (the owner of the table), not SQL on its table name.
    """
    from tags.models import Tag

    rows = list(Tag.objects.filter(id__in=tag_ids).values_list("id", "datatype"))
    return {r[0] for r in rows}, {r[0] for r in rows if r[1] == "STRING"}


def _copy(cur, table: str, rows, maybe_null: bool = True) -> None:
    with cur.copy(f"COPY {table} {_COLUMNS} FROM STDIN (FORMAT BINARY)") as cp:
        cp.write(encode_copy_binary(rows, maybe_null))


def _slow_insert(cur, rows) -> int:
    """Staging COPY + INSERT of the rows not already stored (first occurrence in stream order wins)."""
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS historian_staging (ts timestamptz, value double precision, "
        "tag_id integer, quality smallint, seq bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DELETE ROWS"
    )
    cur.execute("TRUNCATE historian_staging")  # a second slow insert in the same transaction starts empty
    _copy(cur, "historian_staging", rows)
    cur.execute(
        """
        INSERT INTO historian_sample (ts, value, tag_id, quality)
        SELECT DISTINCT ON (s.tag_id, s.ts) s.ts, s.value, s.tag_id, s.quality
        FROM historian_staging s
        WHERE NOT EXISTS (SELECT 1 FROM historian_sample h WHERE h.tag_id = s.tag_id AND h.ts = s.ts)
        ORDER BY s.tag_id, s.ts, s.seq
        ON CONFLICT DO NOTHING
        """
    )
    return cur.rowcount


def _commit_postgresql(num_rows, str_rows, spans, epoch, last_id, result: FlushResult,
                       maybe_null: bool = True) -> None:
    late_before = None
    if conf.KILN_HISTORIAN_COMPACT_AFTER_HOURS:
        late_before = time.time() - conf.KILN_HISTORIAN_COMPACT_AFTER_HOURS * 3600 / 2
    with transaction.atomic():
        cur = connection.connection.cursor()
        statement_timeout_local(cur)
        # History deletes of a tag wait for this, so they never miss rows a flush is about to commit.
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [WRITER_LOCK_KEY])
        tag_ids = {r[2] for r in num_rows} | {r[2] for r in str_rows}
        existing, strings = _tag_kinds(cur, tag_ids) if tag_ids else (set(), set())
        numeric, text, unknown = [], [], 0
        if not strings and len(existing) == len(tag_ids):
            numeric = num_rows  # every tag exists and is numeric: nothing to sort out
        else:
            for row in num_rows:
                if row[2] not in existing:
                    unknown += 1
                elif row[2] in strings:
                    text.append((row[0], None if row[1] is None else str(row[1]), row[2], row[3]))
                else:
                    numeric.append(row)
        for row in str_rows:
            if row[2] not in existing:
                unknown += 1
            elif row[2] in strings:
                text.append(row)
            else:
                # A string value for a numeric tag cannot be stored as a number; keep it as text, never drop it.
                text.append(row)
        result.unknown_tag = unknown

        fast, slow = numeric, []
        if late_before is not None:
            fast = [r for r in numeric if r[0] >= late_before]
            if len(fast) != len(numeric):
                slow = [r for r in numeric if r[0] < late_before]
        written = 0
        if fast:
            try:
                with transaction.atomic():  # a savepoint: a duplicate undoes only this COPY
                    _copy(cur, "historian_sample", fast, maybe_null)
                written += len(fast)
            except psycopg.errors.UniqueViolation:
                result.slow_path = True
                written += _slow_insert(cur, fast)
        if slow:
            result.slow_path = True
            written += _slow_insert(cur, slow)
        if text:
            cur.executemany(
                "INSERT INTO historian_string_sample (ts, value, tag_id, quality) "
                "VALUES (to_timestamp(%s), %s, %s, %s) ON CONFLICT DO NOTHING",
                text,
            )
            written += len(text)
        if spans:
            cur.executemany(
                "INSERT INTO historian_historiandirtyrange (ts_from, ts_to) "
                "VALUES (to_timestamp(%s), to_timestamp(%s))",
                _dirty_ranges(spans),
            )
        cur.execute(
            "INSERT INTO historian_historianwritercheckpoint (id, stream_epoch, last_id, updated) "
            "VALUES (1, %s, %s, now()) ON CONFLICT (id) DO UPDATE "
            "SET stream_epoch = EXCLUDED.stream_epoch, last_id = EXCLUDED.last_id, updated = EXCLUDED.updated",
            [epoch, last_id],
        )
    result.written = written


def _commit_other(num_rows, str_rows, epoch, last_id, result: FlushResult) -> None:
    """SQLite (the demo): the same transaction shape in plain SQL; no partitions, no rollups.

    INSERT ... ON CONFLICT DO NOTHING refuses a replayed (tag_id, ts) as the PostgreSQL slow path does, and its
    row count is what `written` reports: rows new in the database, not rows offered.
    """
    from historian.models import HistorianWriterCheckpoint
    from tags.models import Tag

    dt = connection.ops.adapt_datetimefield_value  # the ORM's spelling of a time, so ORM queries match it

    with transaction.atomic():
        ids = {r[2] for r in num_rows} | {r[2] for r in str_rows}
        kinds = dict(Tag.objects.filter(pk__in=ids).values_list("id", "datatype"))
        samples, strings = [], []
        for ts, value, tag_id, quality in [*num_rows, *str_rows]:
            kind = kinds.get(tag_id)
            if kind is None:
                result.unknown_tag += 1
            elif kind == "STRING" or isinstance(value, str):
                strings.append((dt(datetime.fromtimestamp(ts, tz=UTC)), None if value is None else str(value),
                                tag_id, quality))
            else:
                samples.append((dt(datetime.fromtimestamp(ts, tz=UTC)), value, tag_id, quality))
        written = 0
        with connection.cursor() as cur:
            for table, rows in (("historian_sample", samples), ("historian_string_sample", strings)):
                if rows:
                    cur.executemany(f"INSERT INTO {table} (ts, value, tag_id, quality) "  # noqa: S608 - constant
                                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
                    written += cur.rowcount
        HistorianWriterCheckpoint.objects.update_or_create(pk=1, defaults={"stream_epoch": epoch, "last_id": last_id})
    result.written = written


def _checkpoint() -> tuple[str, str] | None:
    from historian.models import HistorianWriterCheckpoint

    row = HistorianWriterCheckpoint.objects.filter(pk=1).values_list("stream_epoch", "last_id").first()
    return tuple(row) if row else None


def _decode(entries) -> tuple[list, list, list[tuple[float, float]], int, bool]:
    """Stream entries → numeric rows, string rows, per-entry (min ts, max ts), expired count, maybe-null flag."""
    days = conf.KILN_HISTORIAN_RETENTION_DAYS
    expire_before = time.time() - days * 86400 if days else None
    num_rows, str_rows, spans, expired, maybe_null = [], [], [], 0, False
    for _entry_id, fields in entries:
        ts, tag_ids, values, codes = buffer_decode(fields[b"d"])
        if not ts:
            continue
        lo, hi = min(ts), max(ts)
        if expire_before is not None and lo < expire_before:
            keep = [i for i, t in enumerate(ts) if t >= expire_before]
            expired += len(ts) - len(keep)
            ts, tag_ids, values, codes = ([col[i] for i in keep] for col in (ts, tag_ids, values, codes))
            if not ts:
                continue
            lo = min(ts)
        spans.append((lo, hi))
        kinds = set(map(type, values))
        if kinds == {float}:  # the common case: one C-level zip, no per-sample Python
            num_rows.extend(zip(ts, values, tag_ids, codes, strict=True))
            continue
        maybe_null = True
        for t, tag_id, v, q in zip(ts, tag_ids, values, codes, strict=True):
            tv = type(v)
            if tv is float or v is None:
                num_rows.append((t, v, tag_id, q))
            elif tv is int or tv is bool:
                num_rows.append((t, float(v), tag_id, q))
            else:
                str_rows.append((t, v if tv is str else str(v), tag_id, q))
    return num_rows, str_rows, spans, expired, maybe_null


def _read_entries(r, max_samples: int):
    entries, samples, start = [], 0, "-"
    while samples < max_samples:
        chunk = r.xrange(BUFFER_STREAM, min=start, max="+", count=ENTRIES_PER_READ)
        if not chunk:
            break
        for entry in chunk:
            entries.append(entry)
            samples += int(entry[1][b"n"])
            if samples >= max_samples:
                break
        if len(chunk) < ENTRIES_PER_READ:
            break
        start = "(" + entries[-1][0].decode()
    return entries, samples


def _trim(r, last_id: bytes | str) -> int:
    """Remove every entry up to last_id (they are committed); returns the samples they held."""
    ms, seq = _id_tuple(last_id)
    return r.eval(_TRIM_LUA, 2, BUFFER_STREAM, BUFFER_COUNT, f"{ms}-{seq}", f"{ms}-{seq + 1}")


def _dead_letter(r, entry, error: str) -> int:
    n = int(entry[1][b"n"])
    pipe = r.pipeline(transaction=True)
    pipe.xadd(DEAD_LETTER_STREAM, {"id": entry[0], "d": entry[1][b"d"], "error": error[:500]})
    pipe.hincrby(BUFFER_DROPPED, "samples", n)
    pipe.hincrby(BUFFER_DROPPED, "batches", 1)
    pipe.hset(BUFFER_DROPPED, "reason", "unwritable entry moved to " + DEAD_LETTER_STREAM)
    pipe.incrby(BUFFER_DROPPED_TOTAL, n)
    pipe.execute()
    _trim(r, entry[0])
    logger.error("Historian entry %s (%d samples) could not be written and went to %s: %s",
                 entry[0], n, DEAD_LETTER_STREAM, error)
    return n


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


def _flush_entries(r, entries, epoch: str) -> FlushResult:
    result = FlushResult(entries=len(entries), samples=sum(int(e[1][b"n"]) for e in entries))
    num_rows, str_rows, spans, expired, maybe_null = _decode(entries)
    result.expired = expired
    last_id = entries[-1][0].decode()
    if connection.vendor == "postgresql":
        _ensure_partitions(spans)
        _commit_postgresql(num_rows, str_rows, spans, epoch, last_id, result, maybe_null)
    else:
        _commit_other(num_rows, str_rows, epoch, last_id, result)
    committed_at = time.time()
    # The sample counts as safe from here on; the trim below may fail (Redis gone) and the checkpoint covers it.
    result.latencies = [(committed_at - _id_tuple(e[0])[0] / 1000, int(e[1][b"n"])) for e in entries]
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
    entries, _ = _read_entries(r, max_samples or conf.KILN_HISTORIAN_WRITER_BATCH)
    if not entries:
        return None
    epoch = buffer_epoch(r)
    checkpoint = _checkpoint()
    skipped = 0
    if checkpoint and checkpoint[0] == epoch:
        done = _id_tuple(checkpoint[1])
        committed = [e for e in entries if _id_tuple(e[0]) <= done]
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
    lease = _Lease(r)
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
    try:
        while time.monotonic() < deadline:
            try:
                result = historian_writer_flush(r=r, max_samples=max_samples)
            except Exception as exc:
                _note_error(r, run, exc)
                if isinstance(exc, psycopg.errors.CheckViolation) or isinstance(
                        exc.__cause__, psycopg.errors.CheckViolation):
                    # A sample with no partition although the cache said there was one (dropped behind the
                    # writer's back, or a restored database): read the catalog again before the next run.
                    _coverage.loaded_at = 0.0
                break
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
