"""One flush's database transaction: the samples (binary COPY on PostgreSQL, plain INSERT on SQLite), the dirty
ranges for the rollups and the writer checkpoint, committed together (historian.writer drives it).

Fast path: COPY straight into the partitioned table. If that hits an existing (tag_id, ts) — a replay, or a
source sending the same timestamp twice — the flush falls back, inside the same transaction, to COPY into a
temporary staging table + INSERT ... SELECT ... ON CONFLICT DO NOTHING. Samples older than half the
compaction age (late backfills, possibly into compacted time ranges) take that slow path, which also checks
NOT EXISTS against rows and chunks, unless no chunk can hold one of them (_late_copy_safe): then they go by COPY
too, which makes a replay after a long outage about four times faster (bench/bench_historian_replay.py).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from django.db import connection, transaction

from historian.chunks import CHUNK_TABLE, MAX_CHUNK_SPAN, chunk_contains_sql
from historian.conf import conf, statement_timeout_local
from historian.constants import COMPACT_LOCK_KEY, WRITER_LOCK_KEY
from historian.partitions import partitions_ensure_for_times, partitions_list

__all__ = ["FlushResult", "encode_copy_binary", "coverage", "ensure_partitions", "commit_postgresql",
           "commit_other", "checkpoint_get", "PG_EPOCH"]

PG_EPOCH = 946684800  # 2000-01-01T00:00:00Z, the zero of PostgreSQL's binary timestamps

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
# One row: 4 fields; ts int64 µs since 2000, value float8 (or NULL: length -1), tag_id int4, quality int2.
_ROW = struct.Struct(">hiqidiiih")
_ROW_NULL = struct.Struct(">hiqiiiih")
_COLUMNS = "(ts, value, tag_id, quality)"


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


class _Coverage:
    """The partitions' time ranges, cached so a flush costs no catalog query unless a sample falls outside."""

    def __init__(self):
        self.ranges: list[tuple[float, float]] = []
        self.loaded_at = 0.0

    def forget(self):
        """Drop the cache: the next flush reads the catalog (a partition may have gone behind this process's back)."""
        self.ranges = []
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


coverage = _Coverage()


def ensure_partitions(spans: list[tuple[float, float]]) -> None:
    """Create the partitions a batch needs before its COPY (in their own short transaction, not the writer's)."""
    probes = []
    for lo, hi in spans:
        probes.extend((lo, hi))
        probes.extend(range(int(lo) + 86400, int(hi), 86400))  # a wide backfill entry: every day in between
    missing = coverage.missing(probes)
    if missing:
        coverage.refresh()
        missing = coverage.missing(missing)
    if missing:
        partitions_ensure_for_times(sorted(set(missing)))
        coverage.refresh()


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

    Through tags' selector (the owner of the table), not SQL on its table name.
    """
    from tags.selectors import tag_datatypes

    kinds = tag_datatypes(tag_ids)
    return set(kinds), {tid for tid, datatype in kinds.items() if datatype == "STRING"}


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
    # A late sample may fall in a compacted range: a chunk holding it counts as stored (historian.chunks).
    cur.execute(
        """
        INSERT INTO historian_sample (ts, value, tag_id, quality)
        SELECT DISTINCT ON (s.tag_id, s.ts) s.ts, s.value, s.tag_id, s.quality
        FROM historian_staging s
        WHERE NOT EXISTS (SELECT 1 FROM historian_sample h WHERE h.tag_id = s.tag_id AND h.ts = s.ts)
          AND NOT {in_chunk}
        ORDER BY s.tag_id, s.ts, s.seq
        ON CONFLICT DO NOTHING
        """.replace("{in_chunk}", chunk_contains_sql("s.tag_id", "s.ts"))
    )
    return cur.rowcount


def _late_copy_safe(cur, rows) -> bool:
    """Whether late samples may go by COPY, with the unique index alone refusing a duplicate: no chunk overlaps
    their time range, every partition they fall in has its unique index, and no compaction can make a chunk of
    them before this transaction ends. The last holds through the compaction lock taken shared for the rest of
    the transaction; a compaction running now makes this False (the slow path), never a wait, and a compaction
    starting later finds the lock taken and tries again on its next run."""
    cur.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", [COMPACT_LOCK_KEY])
    if not cur.fetchone()[0]:
        return False
    lo, hi = min(r[0] for r in rows) - 1, max(r[0] for r in rows) + 1  # a second's margin for rounding
    cur.execute(f"SELECT EXISTS (SELECT 1 FROM {CHUNK_TABLE} WHERE ts_from <= to_timestamp(%s) "  # noqa: S608
                f"AND ts_from > to_timestamp(%s) - interval '{MAX_CHUNK_SPAN}' AND ts_to >= to_timestamp(%s))",
                [hi, lo, lo])
    if cur.fetchone()[0]:
        return False
    return not any(p.compacted and p.start.timestamp() <= hi and p.end.timestamp() > lo for p in partitions_list())


def commit_postgresql(num_rows, str_rows, spans, epoch, last_id, result: FlushResult,
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
                if _late_copy_safe(cur, slow):
                    fast, slow = numeric, []
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


def commit_other(num_rows, str_rows, epoch, last_id, result: FlushResult) -> None:
    """SQLite (the demo): the same transaction shape in plain SQL; no partitions, no rollups.

    INSERT ... ON CONFLICT DO NOTHING refuses a replayed (tag_id, ts) as the PostgreSQL slow path does, and its
    row count is what `written` reports: rows new in the database, not rows offered.
    """
    from historian.models import HistorianWriterCheckpoint
    from tags.selectors import tag_datatypes

    dt = connection.ops.adapt_datetimefield_value  # the ORM's spelling of a time, so ORM queries match it

    with transaction.atomic():
        ids = {r[2] for r in num_rows} | {r[2] for r in str_rows}
        kinds = tag_datatypes(ids)
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


def checkpoint_get() -> tuple[str, str] | None:
    from historian.models import HistorianWriterCheckpoint

    row = HistorianWriterCheckpoint.objects.filter(pk=1).values_list("stream_epoch", "last_id").first()
    return tuple(row) if row else None
