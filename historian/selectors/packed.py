"""Time-weighted averages straight from raw samples: each tag's samples fetched as packed arrays and integrated
with numpy, answering the rows the SQL path would (historian.selectors.sql) when the samples are dense enough to pay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from historian.chunks import CHUNK_TABLE, MAX_CHUNK_SPAN
from historian.constants import BAD_CODE
from historian.selectors.sql import _CARRY

# Each tag's samples packed into two big-endian strings per segment: timestamps as PostgreSQL sends them (int8
# microseconds since 2000-01-01) and values as float8, NaN where a sample holds no usable value (NaN is never
# stored: values are coerced finite). A time-weighted average needs each sample's successor; a window function
# costs PostgreSQL ~0.5 µs a row for that, subtracting two packed arrays in Python a few nanoseconds.
#
# Segments (historian.chunks has the layout): a chunk wholly inside [a, b) whose samples are all usable is sent as
# its arrays (array_send: no per-sample work in SQL beyond the send functions); the hot rows of each tag, and each
# chunk that straddles an edge or holds an unusable sample, are expanded and sent sample by sample. Each comes in
# storage order, which is time order unless a backfill came late: _raw_average_rows checks and sorts if not
# (measured: sorting in SQL cost a day of one-second rows ~30 ms, numpy's check a fraction of one).
_CLEAN = f"{BAD_CODE} > ALL(c.q) AND array_position(c.v8, NULL) IS NULL AND array_position(c.v4, NULL) IS NULL"
_WHOLE = "c.ts_from >= %(a0)s AND c.ts_to < %(b0)s"
_SEND_V = f"float8send(CASE WHEN quality < {BAD_CODE} THEN coalesce(value, 'NaN') ELSE 'NaN' END)"
_RAW_SERIES = f"""
SELECT tag_id, string_agg(timestamptz_send(ts), ''::bytea), string_agg({_SEND_V}, ''::bytea),
       false
FROM historian_sample WHERE tag_id = ANY(%(ids)s) AND ts >= %(a0)s AND ts < %(b0)s
GROUP BY tag_id
UNION ALL
SELECT tag_id, string_agg(timestamptz_send(ts), ''::bytea), string_agg({_SEND_V}, ''::bytea),
       false
FROM (
    SELECT c.ctid AS c, c.tag_id, unnest(c.ts) AS ts, unnest(coalesce(c.v8, c.v4::float8[])) AS value,
           unnest(c.q) AS quality
    FROM {CHUNK_TABLE} c
    WHERE c.tag_id = ANY(%(ids)s) AND c.ts_from < %(b0)s AND c.ts_from > %(a0)s - interval '{MAX_CHUNK_SPAN}'
      AND c.ts_to >= %(a0)s AND NOT ({_WHOLE} AND {_CLEAN})
) u WHERE ts >= %(a0)s AND ts < %(b0)s
GROUP BY tag_id, c
UNION ALL
SELECT c.tag_id, array_send(c.ts), array_send(coalesce(c.v8, c.v4::float8[])), true
FROM {CHUNK_TABLE} c
WHERE c.tag_id = ANY(%(ids)s) AND {_WHOLE} AND {_CLEAN}
"""  # noqa: S608 - constants are formatted in

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_US = 946_684_800_000_000  # the same in microseconds since 1970
_MICROSECOND = timedelta(microseconds=1)

# Below this many samples per bucket the per-bucket Python work outweighs what it saves: use the SQL path.
_RAW_AVERAGE_MIN_DENSITY = 4


_SENT_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])  # array_send's element: its length, its 8 bytes


def _unpack(packed: bytes) -> np.ndarray:
    """A string_agg of int8send/float8send/timestamptz_send values (big-endian 8 bytes each), as int64 bits."""
    return np.frombuffer(packed, dtype=">i8").astype(np.int64)


def _unpack_array(sent: bytes) -> np.ndarray:
    """The elements of a one-dimensional int8/float8/timestamptz array without NULLs, from array_send's output
    (a 20-byte header, then each element's length and 8 bytes, big-endian), as int64 bits."""
    if len(sent) <= 20:
        return np.empty(0, dtype=np.int64)
    elements = np.frombuffer(sent, dtype=_SENT_ELEMENT, offset=20)
    if (elements["length"] != 8).any():
        raise ValueError("not an array of 8-byte elements without NULLs")
    return elements["value"].astype(np.int64)


def _series(rows) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Each tag's (times, values) from _RAW_SERIES' segments, in time order: segments sorted by their first time
    and joined (they are each in time order and, as chunks of one window or rows after them, do not overlap;
    _raw_average_rows checks the order anyway and sorts what does not hold)."""
    segments: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for tag_id, packed_ts, packed_v, whole in rows:
        unpack = _unpack_array if whole else _unpack
        ts, vs = unpack(packed_ts), unpack(packed_v).view(np.float64)
        if len(ts):
            segments.setdefault(tag_id, []).append((ts, vs))
    out = {}
    for tag_id, parts in segments.items():
        parts.sort(key=lambda part: part[0][0])
        out[tag_id] = (np.concatenate([t for t, _ in parts]), np.concatenate([v for _, v in parts]))
    return out


def _pg_us(moment: datetime) -> int:
    """A datetime as PostgreSQL's timestamptz_send counts: whole microseconds since 2000-01-01T00:00Z."""
    return (moment - _PG_EPOCH) // _MICROSECOND


def _raw_average_rows(cur, params: dict, w: int, start: datetime, end: datetime, n_buckets: int
                      ) -> list[tuple] | None:
    """Time-weighted averages of an all-raw query, as the SQL path's rows (tag_id, k, head, integ, cov, fill).

    Same semantics as _aggregate_sql: a sample's value holds until the next sample or the bucket's end, a
    sample with no usable value holds nothing, `fill` is a bucket's last value if usable. Durations are exact
    (integer microseconds), the value carried into each bucket included, so every row's head is its bucket's
    start and _assemble adds nothing to it. Returns None (the caller uses the SQL path) when the samples are
    too sparse for this to pay.
    """
    cur.execute(_CARRY.format(bad=BAD_CODE), params, binary=True)
    carried = {tag_id: tail_v if good else None for tag_id, tail, tail_v, good in cur.fetchall() if tail is not None}
    cur.execute(_RAW_SERIES, params, binary=True)
    series = _series(cur.fetchall())
    samples = sum(len(ts) for ts, _ in series.values())
    if samples < _RAW_AVERAGE_MIN_DENSITY * n_buckets:
        return None
    rows = [(tag_id, params["k0"] - 1, None, None, None, held) for tag_id, held in carried.items()]
    span = (_pg_us(start), _pg_us(end), start.timestamp())
    for tag_id, (ts, vs) in series.items():
        buckets = _integrate(ts, vs, w, span, carried.get(tag_id))
        if buckets is None:  # not in time order (a late backfill): sort and go again
            order = np.argsort(ts, kind="stable")  # timestamps are unique per tag
            buckets = _integrate(ts[order], vs[order], w, span, carried.get(tag_id))
        rows.extend((tag_id, *b) for b in buckets)
    return rows


def _integrate(ts, vs, w: int, span: tuple[int, int, float], held: float | None) -> list[tuple] | None:
    """(k, head, integ, cov, fill) per non-empty bucket of one tag's samples; None if ts is not ascending.

    `ts` (int64) and span's first two members (start, end) are microseconds since 2000-01-01, its third the start
    in epoch seconds; `vs` (float64) holds NaN where a sample has no usable value; `held` is the usable value
    carried in from before the start (or None). Durations are integers until the products: exact.
    """
    ts, vs = np.asarray(ts, dtype=np.int64), np.asarray(vs, dtype=np.float64)
    if not len(ts):
        return []
    if len(ts) > 1 and not (ts[1:] > ts[:-1]).all():
        return None
    start_us, end_us, start_ep = span
    w_us = w * 1_000_000
    k = (ts + _PG_EPOCH_US) // w_us
    first = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))  # each bucket's first sample
    last = np.concatenate((first[1:], [len(ts)])) - 1
    kb = k[first]
    upper = (kb + 1) * w_us - _PG_EPOCH_US
    # Each sample holds until the next one; a bucket's last sample until the bucket's end (or the query's end);
    # _assemble carries it on from there.
    nxt = np.concatenate((ts[1:], [0]))
    nxt[last] = np.minimum(upper, end_us)
    dts = (nxt - ts).astype(np.float64)
    usable = ~np.isnan(vs)
    integ = np.add.reduceat(np.where(usable, vs, 0.0) * dts, first)
    cov = np.add.reduceat(np.where(usable, dts, 0.0), first)
    # The value held from before each bucket's first sample (the previous bucket's last, or `held`).
    before = np.concatenate(([np.nan if held is None else held], vs[last[:-1]]))
    lead_in = (ts[first] - np.maximum(upper - w_us, start_us)).astype(np.float64)
    carry = ~np.isnan(before) & (lead_in > 0)
    integ += np.where(carry, before * lead_in, 0.0)
    cov += np.where(carry, lead_in, 0.0)
    fill = vs[last]
    return [(int(kk), max(int(kk) * w, start_ep), i / 1e6, c / 1e6, None if f != f else float(f))
            for kk, i, c, f in zip(kb.tolist(), integ.tolist(), cov.tolist(), fill.tolist(), strict=True)]
