"""Time-weighted averages straight from raw samples: each tag's samples fetched as packed arrays and integrated in
Python, answering the rows the SQL path would (historian.selectors.sql) when the samples are dense enough to pay.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from itertools import compress
from operator import mul, sub

from historian.chunks import samples_sql
from historian.constants import BAD_CODE
from historian.selectors.sql import _CARRY

# Each tag's samples packed into two big-endian strings in scan order: timestamps as PostgreSQL sends them
# (int8 microseconds since 2000-01-01) and values as float8, NaN where a sample holds no usable value (NaN is
# never stored: values are coerced finite). A time-weighted average needs each sample's successor; a window
# function costs PostgreSQL ~0.5 µs a row for that, subtracting two packed arrays in Python a few nanoseconds.
_RAW_SERIES = f"""
SELECT tag_id, string_agg(timestamptz_send(ts), ''::bytea),
       string_agg(float8send(CASE WHEN quality < {BAD_CODE} THEN coalesce(value, 'NaN') ELSE 'NaN' END), ''::bytea)
FROM {samples_sql("%(a0)s", "%(b0)s")} s
GROUP BY tag_id
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
    series = cur.fetchall()
    samples = sum(len(packed_ts) // 8 for _, packed_ts, _ in series)
    if samples < _RAW_AVERAGE_MIN_DENSITY * n_buckets:
        return None
    rows = [(tag_id, params["k0"] - 1, None, None, None, held) for tag_id, held in carried.items()]
    span = (_pg_us(start), _pg_us(end), start.timestamp())
    for tag_id, packed_ts, packed_v in series:
        ts, vs = _unpack(packed_ts, "q"), _unpack(packed_v, "d")
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
