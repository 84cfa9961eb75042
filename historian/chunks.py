"""Compacted history (PostgreSQL): one `historian_chunk` row per tag per compaction window, holding that tag's
samples of the window as three parallel arrays (times, values, quality codes), stored with PostgreSQL's own lz4
TOAST compression.

Why this layout (bench/bench_historian_storage.py measures it beside the row layout): a sample row costs ~52 B
compacted and ~84 B hot (tuple header, alignment, index entry); in a chunk a sample costs its 8-byte time
(~6 B after lz4), its value (8 B, or 4 B when every value of the chunk is exactly a float32, as PLC REALs are)
and a quality code that lz4 reduces to almost nothing (runs of GOOD). Every reader stays one SQL statement:
`samples_sql` unions the hot rows with the chunks' arrays expanded by `unnest`, in C, so no reader decodes
anything in Python and every answer is the same whichever layout holds the samples.

Compaction (`compact_window`) moves the rows of one time window into chunks in one REPEATABLE READ
transaction: INSERT ... SELECT ... GROUP BY tag_id, then DELETE of the same rows (the same snapshot). A crash
(or a kill) before the commit rolls both back, so a sample is either a row or in a chunk, never lost and never
both. Rows arriving later in a compacted window (a
backfill through the writer's slow path, which checks chunks for duplicates) stay rows until the next pass
moves them into an additional chunk: chunks of one tag may overlap in time, readers never assume otherwise.

A chunk spans at most one window (KILN_HISTORIAN_COMPACT_BATCH minutes, at most a day), so a reader finds
every chunk overlapping [a, b) with `ts_from > a - 1 day` on the (tag_id, ts_from) index. On SQLite (the demo)
there are no chunks: samples stay rows.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

__all__ = ["CHUNK_TABLE", "MAX_CHUNK_SPAN", "samples_sql", "chunk_contains_sql", "pack_window", "compact_window"]

CHUNK_TABLE = "historian_chunk"
MAX_CHUNK_SPAN = "1 day"  # the longest window a chunk may cover (KILN_HISTORIAN_COMPACT_BATCH ≤ 1440 minutes)

# Values go to the float4 array only if the whole chunk survives the round trip exactly (values stay float8 to
# every reader: float4 → float8 is exact). The array cast is tried only when every value lies in float4's normal
# range (it would raise on overflow, or on underflow of a non-zero value to 0; subnormals stay float8).
_FLT_MAX, _FLT_MIN = "3.4028234663852886e38", "1.1754943508222875e-38"

# Rows of [lo, hi) → one chunk per tag, then the same rows deleted: two statements in one REPEATABLE READ
# transaction, so both see the very same rows (a row committed meanwhile is neither packed nor deleted: it stays
# a row for the next run) and the commit makes them chunks all at once. Measured twice as fast as one
# DELETE ... RETURNING feeding the INSERT (whose returned rows PostgreSQL first copies into a tuplestore).
_PACK_SQL = f"""
INSERT INTO {CHUNK_TABLE} (tag_id, ts_from, ts_to, n, ts, v8, v4, q)
SELECT tag_id, ts_from, ts_to, n, ts,
       CASE WHEN x.v4 IS NULL OR x.v4::float8[] <> v THEN v END,
       CASE WHEN x.v4::float8[] = v THEN x.v4 END,
       q
FROM (
    SELECT tag_id, min(ts) AS ts_from, max(ts) AS ts_to, count(*) AS n, array_agg(ts) AS ts,
           array_agg(value) AS v, array_agg(quality) AS q,
           max(abs(value)) AS hi, min(abs(value)) FILTER (WHERE value <> 0) AS lo
    FROM historian_sample WHERE ts >= %(lo)s AND ts < %(hi)s
    GROUP BY tag_id
) g CROSS JOIN LATERAL (
    SELECT CASE WHEN hi IS NULL OR (hi <= {_FLT_MAX} AND (lo IS NULL OR lo >= {_FLT_MIN})) THEN v::real[] END AS v4
) x
RETURNING tag_id, n
"""  # noqa: S608 - only constants are formatted in
_DELETE_SQL = "DELETE FROM historian_sample WHERE ts >= %(lo)s AND ts < %(hi)s"


def samples_sql(a: str, b: str, ids: str | None = "%(ids)s") -> str:
    """A subquery of every stored numeric sample (ts, value, tag_id, quality) of tags `ids` in [a, b): hot rows
    and compacted chunks alike. `a`, `b`, `ids` are SQL expressions (usually parameter placeholders); ids=None
    means every tag. The rows come in no particular order (chunks may overlap): readers sort as they need.
    A chunk holds either float8 or float4 values: the one present is cast to float8 as a whole array, so no
    row pays for a coalesce. The arrays are expanded by unnest in the select list (in lockstep: a ProjectSet
    streaming rows), not in FROM, where a function scan first copies every row into a tuplestore: measured
    15 ms instead of 26-55 ms for a day of one tag.
    """
    tag_h = f"tag_id = ANY({ids}) AND " if ids else ""
    tag_c = f"c.tag_id = ANY({ids}) AND " if ids else ""
    return f"""(
SELECT ts, value, tag_id, quality FROM historian_sample WHERE {tag_h}ts >= {a} AND ts < {b}
UNION ALL
SELECT u.ts, u.v, u.tag_id, u.q FROM (
    SELECT c.tag_id, unnest(c.ts) AS ts, unnest(coalesce(c.v8, c.v4::float8[])) AS v, unnest(c.q) AS q
    FROM {CHUNK_TABLE} c
    WHERE {tag_c}c.ts_from < {b} AND c.ts_from > {a} - interval '{MAX_CHUNK_SPAN}' AND c.ts_to >= {a} AND {a} < {b}
) u WHERE u.ts >= {a} AND u.ts < {b})"""  # noqa: S608 - SQL expressions of the caller's, no values


def chunk_contains_sql(tag: str, ts: str) -> str:
    """A condition: some chunk already holds a sample of tag `tag` at time `ts` (SQL expressions)."""
    return (f"EXISTS (SELECT 1 FROM {CHUNK_TABLE} c WHERE c.tag_id = {tag} AND c.ts_from <= {ts} "  # noqa: S608
            f"AND c.ts_from > {ts} - interval '{MAX_CHUNK_SPAN}' AND c.ts_to >= {ts} AND {ts} = ANY(c.ts))")


def pack_window(cur, lo: datetime, hi: datetime, table: str = "historian_sample") -> dict[int, int]:
    """Insert one chunk per tag for the rows of `table` (the parent, or one of its partitions) in [lo, hi); the
    rows stay. Returns {tag_id: samples packed}. The caller owns the transaction and decides what becomes of the
    rows (compact_window deletes them, historian.compaction truncates a whole closed partition)."""
    cur.execute(_PACK_SQL.replace("FROM historian_sample", f"FROM {table}"), {"lo": lo, "hi": hi})
    packed: dict[int, int] = {}
    for tag_id, n in cur.fetchall():
        packed[tag_id] = packed.get(tag_id, 0) + n
    return packed


def compact_window(lo: datetime, hi: datetime) -> int:
    """Move every sample row of [lo, hi) into chunks (see _PACK_SQL). Returns the number of samples moved.

    The caller owns the transaction, begun REPEATABLE READ (and its statement timeout). Rows come back in heap
    order, which is time order for rows the writer appended, so a chunk's arrays are nearly always in time
    order; sorting them would cost more than all the rest, and no reader relies on it.
    """
    with connection.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '256MB'")
        moved = sum(pack_window(cur, lo, hi).values())
        cur.execute(_DELETE_SQL, {"lo": lo, "hi": hi})
        if cur.rowcount != moved:  # the snapshot guarantees equality; anything else must not commit
            raise RuntimeError(f"compaction of {lo}..{hi} packed {moved} samples but deleted {cur.rowcount}")
        return moved
