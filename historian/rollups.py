"""Rollups: 1-minute aggregates from raw samples, 1-hour aggregates from the 1-minute ones (PostgreSQL).

Each rollup row keeps what is needed to combine buckets exactly (see historian.models._Rollup): count, sum,
min, max, first and last usable value, the first and last sample times of any quality, the last sample's value
and usability, and the time integral over the intervals inside the bucket. Combining consecutive pieces adds
the interval between one piece's tail and the next piece's head, so a 1-hour rollup built from sixty 1-minute
rollups is identical to one built from the raw samples, and a query can mix tiers.

Keeping them current: every writer commit adds a dirty range (historian_historiandirtyrange) in the same
transaction as its samples. `rollups_refresh` (beat, every few seconds) takes the oldest dirty minutes, at most
KILN_HISTORIAN_ROLLUP_CHUNK_MINUTES per transaction, recomputes their 1-minute rows from raw and the touched
hours from the 1-minute rows (INSERT ... ON CONFLICT DO UPDATE), and deletes those dirty ranges in the same
transaction. A minute is rolled up only once it has closed (KILN_HISTORIAN_ROLLUP_SETTLE_SECONDS), so each is read
once, not every run. Queries treat everything before the oldest pending dirty range as exact in the rollups and read
raw samples after it, so a late backfill is never hidden behind a stale rollup.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from historian.chunks import samples_sql
from historian.conf import conf, statement_timeout_local
from historian.constants import BAD_CODE, ROLLUP_LOCK_KEY

logger = logging.getLogger(__name__)

__all__ = ["RollupRun", "rollups_refresh", "rollups_mark_dirty", "rollup_exact_until", "ROLLUP_EXACT_UNTIL_SQL"]

EPOCH_SQL = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"

_UPSERT_SET = ", ".join(
    f"{c} = EXCLUDED.{c}"
    for c in ("value_count", "value_sum", "value_min", "value_max", "value_first", "value_last", "head_ts",
              "tail_ts", "tail_value", "tail_good", "integral", "covered")
)
_COLUMNS = ("bucket, tag_id, value_count, value_sum, value_min, value_max, value_first, value_last, head_ts, "
            "tail_ts, tail_value, tail_good, integral, covered")

# Raw samples [a, b) (rows and chunks) → 1-minute pieces. `nt` is the next sample of the same tag in the same minute.
_MINUTE_SQL = f"""
INSERT INTO historian_rollup_1m ({_COLUMNS})
SELECT bucket, tag_id,
       count(*) FILTER (WHERE good),
       sum(value) FILTER (WHERE good),
       min(value) FILTER (WHERE good),
       max(value) FILTER (WHERE good),
       (min(ARRAY[t, value]) FILTER (WHERE good))[2],
       (max(ARRAY[t, value]) FILTER (WHERE good))[2],
       min(t), max(t),
       (max(ARRAY[t, value]))[2],
       (max(ARRAY[t, good::int::float8]))[2] = 1,
       coalesce(sum(value * (nt - t)) FILTER (WHERE good AND nt IS NOT NULL), 0),
       coalesce(sum(nt - t) FILTER (WHERE good AND nt IS NOT NULL), 0)
FROM (
    SELECT date_bin('1 minute', ts, {EPOCH_SQL}) AS bucket, tag_id, value,
           date_part('epoch', ts) AS t,
           (quality < {BAD_CODE} AND value IS NOT NULL) AS good,
           lead(date_part('epoch', ts)) OVER (PARTITION BY tag_id, date_bin('1 minute', ts, {EPOCH_SQL})
                                              ORDER BY ts) AS nt
    FROM {samples_sql("%(a)s", "%(b)s", ids=None)} r
) s
GROUP BY tag_id, bucket
ON CONFLICT (tag_id, bucket) DO UPDATE SET {_UPSERT_SET}
"""  # noqa: S608 - only constants are formatted in

# 1-minute pieces of hours [a, b) → 1-hour pieces. `nh` is the next piece's head within the same hour.
_HOUR_SQL = f"""
INSERT INTO historian_rollup_1h ({_COLUMNS})
SELECT hour, tag_id,
       sum(value_count),
       sum(value_sum),
       min(value_min),
       max(value_max),
       (min(ARRAY[head_ts, value_first]) FILTER (WHERE value_first IS NOT NULL))[2],
       (max(ARRAY[tail_ts, value_last]) FILTER (WHERE value_last IS NOT NULL))[2],
       min(head_ts), max(tail_ts),
       (max(ARRAY[tail_ts, tail_value]))[2],
       (max(ARRAY[tail_ts, tail_good::int::float8]))[2] = 1,
       sum(integral) + coalesce(sum(tail_value * (nh - tail_ts)) FILTER (WHERE tail_good AND nh IS NOT NULL), 0),
       sum(covered) + coalesce(sum(nh - tail_ts) FILTER (WHERE tail_good AND nh IS NOT NULL), 0)
FROM (
    SELECT m.*, date_bin('1 hour', bucket, {EPOCH_SQL}) AS hour,
           lead(head_ts) OVER (PARTITION BY tag_id, date_bin('1 hour', bucket, {EPOCH_SQL}) ORDER BY bucket) AS nh
    FROM historian_rollup_1m m
    WHERE bucket >= %(a)s AND bucket < %(b)s
) s
GROUP BY tag_id, hour
ON CONFLICT (tag_id, bucket) DO UPDATE SET {_UPSERT_SET}
"""  # noqa: S608 - only constants are formatted in


@dataclass
class RollupRun:
    chunks: int = 0
    minutes: int = 0
    minute_rows: int = 0
    hour_rows: int = 0
    busy: bool = False  # another refresher held the lock
    ranges: list[tuple[datetime, datetime]] = field(default_factory=list)


def _floor(dt: datetime, seconds: int) -> datetime:
    ts = dt.timestamp()
    return datetime.fromtimestamp(ts - ts % seconds, tz=UTC)


def _ceil(dt: datetime, seconds: int) -> datetime:
    floor = _floor(dt, seconds)
    return floor if floor == dt else floor + timedelta(seconds=seconds)


def _merge(ranges: list[tuple[datetime, datetime]]) -> list[list[datetime]]:
    out: list[list[datetime]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def rollups_mark_dirty(*, ts_from: datetime, ts_to: datetime) -> None:
    """Ask for the rollups of [ts_from, ts_to] to be recomputed (the benchmark's bulk load, repairs)."""
    from historian.models import HistorianDirtyRange

    HistorianDirtyRange.objects.create(ts_from=ts_from, ts_to=ts_to)


# Start of the oldest pending dirty range: rollups are exact for everything before it (NULL: all exact).
ROLLUP_EXACT_UNTIL_SQL = "SELECT min(ts_from) FROM historian_historiandirtyrange"


def rollup_exact_until(cursor) -> datetime | None:
    """Start of the oldest pending dirty range: rollups are exact for everything before it (None: all exact)."""
    cursor.execute(ROLLUP_EXACT_UNTIL_SQL)
    return cursor.fetchone()[0]


def _refresh_chunk(chunk_seconds: int, run: RollupRun, closed_before: datetime | None = None) -> bool:
    """One transaction: the oldest dirty minutes, at most one chunk, none from `closed_before` on. False when
    nothing (closed) is dirty, or another refresher holds the lock."""
    with transaction.atomic():
        with connection.cursor() as cur:
            statement_timeout_local(cur)
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK_KEY])
            if not cur.fetchone()[0]:
                run.busy = True
                return False
            cur.execute("SELECT id, ts_from, ts_to FROM historian_historiandirtyrange ORDER BY ts_from FOR UPDATE")
            rows = cur.fetchall()
            if not rows:
                return False
            # Whole minutes: a dirty instant dirties its minute. ts_to is a sample time, so its minute is included.
            merged = _merge([(_floor(a, 60), _floor(b, 60) + timedelta(seconds=60)) for _, a, b in rows])
            a = merged[0][0]
            b = min(merged[0][1], a + timedelta(seconds=chunk_seconds))
            if closed_before is not None:
                # Only minutes that have closed: the open one would be recomputed from all its raw rows on every
                # run while the writer keeps dirtying it (issue 18: ~70 % of a core at 10,000 values/s). Queries
                # read raw samples from the oldest dirty minute on, so leaving it dirty costs them nothing.
                if a >= closed_before:
                    return False
                b = min(b, closed_before)
            rest = [(b, merged[0][1])] if b < merged[0][1] else []
            rest += [(x, y) for x, y in merged[1:]]
            cur.execute("DELETE FROM historian_historiandirtyrange WHERE id = ANY(%s)", [[r[0] for r in rows]])
            if rest:
                # Put back what this chunk does not cover, merged (it keeps the dirty table a few rows long). ts_to
                # is read back as a sample time (its minute included), so a whole-minute end goes back as the
                # instant before it: otherwise each put-back would grow by a minute.
                cur.executemany("INSERT INTO historian_historiandirtyrange (ts_from, ts_to) VALUES (%s, %s)",
                                [(x, y - timedelta(microseconds=1)) for x, y in rest])
            cur.execute("SET LOCAL work_mem = '64MB'")
            cur.execute(_MINUTE_SQL, {"a": a, "b": b})
            run.minute_rows += cur.rowcount
            cur.execute(_HOUR_SQL, {"a": _floor(a, 3600), "b": _ceil(b, 3600)})
            run.hour_rows += cur.rowcount
    run.chunks += 1
    run.minutes += int((b - a).total_seconds() // 60)
    run.ranges.append((a, b))
    return True


def rollups_refresh(*, budget_seconds: float = 20, chunk_minutes: int | None = None) -> RollupRun:
    """Bring the rollups up to date, oldest dirty range first, until none is left or the budget is spent."""
    run = RollupRun()
    if connection.vendor != "postgresql":
        return run
    chunk = (chunk_minutes or conf.KILN_HISTORIAN_ROLLUP_CHUNK_MINUTES) * 60
    settle = conf.KILN_HISTORIAN_ROLLUP_SETTLE_SECONDS
    # A minute is rolled up once it ended `settle` seconds ago (samples still in the buffer then re-dirty it, and
    # it is recomputed once more); a negative setting rolls up the open minute too, as before issue 18.
    closed_before = _floor(datetime.now(UTC) - timedelta(seconds=settle), 60) if settle >= 0 else None
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        if not _refresh_chunk(chunk, run, closed_before):
            break
    return run
