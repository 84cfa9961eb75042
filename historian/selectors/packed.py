"""Time-weighted averages straight from raw samples: each tag's samples fetched as packed arrays and integrated in
Python, answering the rows the SQL path would (historian.selectors.sql) when the samples are dense enough to pay.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from itertools import compress
from operator import mul, sub

from historian.chunks import CHUNK_TABLE, MAX_CHUNK_SPAN
from historian.constants import BAD_CODE
from historian.selectors.sql import _CARRY

# Each tag's samples packed into two big-endian strings per segment: timestamps as PostgreSQL sends them (int8
# microseconds since 2000-01-01) and values as float8, NaN where a sample holds no usable value (NaN is never
# stored: values are coerced finite). A time-weighted average needs each sample's successor; a window function
# costs PostgreSQL ~0.5 µs a row for that, subtracting two packed arrays in Python a few nanoseconds.
#
# Segments (historian.chunks has the layout): a chunk wholly inside [a, b) whose samples are all usable is sent as
# its arrays (array_send: no per-sample work at all in PostgreSQL); the hot rows of each tag, and each chunk that
# straddles an edge or holds an unusable sample, are expanded and sent sample by sample, in time order.
_CLEAN = f"{BAD_CODE} > ALL(c.q) AND array_position(c.v8, NULL) IS NULL AND array_position(c.v4, NULL) IS NULL"
_WHOLE = "c.ts_from >= %(a0)s AND c.ts_to < %(b0)s"
_SEND_V = f"float8send(CASE WHEN quality < {BAD_CODE} THEN coalesce(value, 'NaN') ELSE 'NaN' END)"
_RAW_SERIES = f"""
SELECT tag_id, string_agg(timestamptz_send(ts), ''::bytea ORDER BY ts), string_agg({_SEND_V}, ''::bytea ORDER BY ts),
       false
FROM historian_sample WHERE tag_id = ANY(%(ids)s) AND ts >= %(a0)s AND ts < %(b0)s
GROUP BY tag_id
UNION ALL
SELECT tag_id, string_agg(timestamptz_send(ts), ''::bytea ORDER BY ts), string_agg({_SEND_V}, ''::bytea ORDER BY ts),
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


def _unpack(packed: bytes, typecode: str) -> array:
    values = array(typecode, packed)
    values.byteswap()  # PostgreSQL's send functions write network (big-endian) order
    return values


def _unpack_array(sent: bytes, typecode: str) -> array:
    """The elements of a one-dimensional int8 or float8 array without NULLs, from array_send's output.

    array_send writes a 20-byte header, then each element as its length (4 bytes) and its 8 bytes, all
    big-endian. Read as 32-bit words that is (length, high, low) per element: two strided slices put the
    halves in little-endian order, so no element passes through Python one by one.
    """
    if len(sent) <= 20:
        return array(typecode)
    words = array("I", sent[20:])
    words.byteswap()
    if len(words) % 3 or words[0] != 8:
        raise ValueError("not an array of 8-byte elements without NULLs")
    halves = array("I", bytes(8 * (len(words) // 3)))
    halves[0::2], halves[1::2] = words[2::3], words[1::3]
    return array(typecode, halves.tobytes())


def _series(rows) -> dict[int, tuple[array, array]]:
    """Each tag's (times, values) from _RAW_SERIES' segments, in time order: segments sorted by their first time
    and joined (they are each in time order and, as chunks of one window or rows after them, do not overlap;
    _raw_average_rows checks the order anyway and sorts what does not hold)."""
    segments: dict[int, list[tuple[array, array]]] = {}
    for tag_id, packed_ts, packed_v, whole in rows:
        if whole:
            ts, vs = _unpack_array(packed_ts, "q"), _unpack_array(packed_v, "d")
        else:
            ts, vs = _unpack(packed_ts, "q"), _unpack(packed_v, "d")
        if ts:
            segments.setdefault(tag_id, []).append((ts, vs))
    out = {}
    for tag_id, parts in segments.items():
        if len(parts) == 1:
            out[tag_id] = parts[0]
            continue
        parts.sort(key=lambda part: part[0][0])
        ts, vs = array("q"), array("d")
        for t, v in parts:
            ts.extend(t)
            vs.extend(v)
        out[tag_id] = (ts, vs)
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
        if buckets is None:  # not in time order (a late backfill in a hot partition): sort and go again
            pairs = sorted(zip(ts, vs, strict=True))  # timestamps are unique per tag: values never compared
            ts, vs = array("q", (p[0] for p in pairs)), array("d", (p[1] for p in pairs))
            buckets = _integrate(ts, vs, w, span, carried.get(tag_id))
        rows.extend((tag_id, *b) for b in buckets)
    return rows


def _integrate(ts: array, vs: array, w: int, span: tuple[int, int, float], held: float | None
               ) -> list[tuple] | None:
    """(k, head, integ, cov, fill) per non-empty bucket of one tag's samples; None if ts is not ascending.

    `ts` and span's first two members (start, end) are microseconds since 2000-01-01, its third the start in
    epoch seconds; `held` is the usable value carried in from before the start (or None). Every bucket checks
    that its samples ascend, lie below its upper edge, and that the next sample lies at or past that edge: all
    buckets passing means the whole series ascends, so bisect's split points are right.
    """
    start_us, end_us, start_ep = span
    out = []
    w_us = w * 1_000_000
    i, n = 0, len(ts)
    while i < n:
        k = (ts[i] + _PG_EPOCH_US) // w_us
        upper = (k + 1) * w_us - _PG_EPOCH_US
        j = bisect_left(ts, upper, i)
        t, v = ts[i:j], vs[i:j]
        dts = list(map(sub, t[1:], t))
        if (dts and min(dts) <= 0) or t[-1] >= upper or (j < n and ts[j] < upper):
            return None
        end = min(upper, end_us)
        dts.append(end - t[-1])  # the last sample holds to the bucket's end; _assemble carries it on from there
        integ = sum(map(mul, v, dts))
        if integ == integ:  # not NaN: every sample usable
            cov = end - t[0]
        else:
            usable = [x == x for x in v]
            integ, cov = sum(map(mul, compress(v, usable), compress(dts, usable))), sum(compress(dts, usable))
        lead_in = t[0] - max(upper - w_us, start_us)  # the value held from before, up to the first sample
        if held is not None and lead_in > 0:
            integ += held * lead_in
            cov += lead_in
        last = v[-1]
        held = last if last == last else None
        out.append((k, max(k * w, start_ep), integ / 1e6, cov / 1e6, held))
        i = j
    return out
