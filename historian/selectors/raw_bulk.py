"""mode=raw in bulk (PostgreSQL): each tag's samples as numpy columns, rendered to the API's JSON without a Python
object per point. The JSON is byte for byte what orjson writes for the points historian.selectors.raw builds
({"ts", "v", "quality"[, "substatus"]}); a day of one-second samples is 86,400 of them.

The samples come as packed arrays, as historian.selectors.packed fetches them for averages: whole chunks inside
the range by array_send, hot rows and chunks at the edges as string_agg of the send functions. NaN marks a NULL
value (NaN itself is never stored: values are coerced finite).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson

from historian.chunks import CHUNK_TABLE, MAX_CHUNK_SPAN
from historian.constants import quality_decode
from historian.selectors.packed import _PG_EPOCH_US, _unpack, _unpack_array

_WHOLE = "c.ts_from >= %(a)s AND c.ts_to < %(b)s"
_SEND = "string_agg(timestamptz_send(ts), ''::bytea), string_agg(float8send(coalesce(value, 'NaN')), ''::bytea), " \
        "string_agg(int2send(quality), ''::bytea)"
RAW_BULK_SQL = f"""
SELECT tag_id, {_SEND}, false
FROM historian_sample WHERE tag_id = ANY(%(ids)s) AND ts >= %(a)s AND ts < %(b)s
GROUP BY tag_id
UNION ALL
SELECT tag_id, {_SEND}, false
FROM (
    SELECT c.ctid AS c, c.tag_id, unnest(c.ts) AS ts, unnest(coalesce(c.v8, c.v4::float8[])) AS value,
           unnest(c.q) AS quality
    FROM {CHUNK_TABLE} c
    WHERE c.tag_id = ANY(%(ids)s) AND c.ts_from < %(b)s AND c.ts_from > %(a)s - interval '{MAX_CHUNK_SPAN}'
      AND c.ts_to >= %(a)s AND NOT ({_WHOLE})
) u WHERE ts >= %(a)s AND ts < %(b)s
GROUP BY tag_id, c
UNION ALL
SELECT c.tag_id, array_send(c.ts), array_send(array_replace(coalesce(c.v8, c.v4::float8[]), NULL, 'NaN')),
       array_send(c.q), true
FROM {CHUNK_TABLE} c
WHERE c.tag_id = ANY(%(ids)s) AND {_WHOLE}
"""  # noqa: S608 - constants are formatted in

# An upper bound of the samples RAW_BULK_SQL would return (whole chunks counted whole), hot rows counted up to
# the limit: over the limit, the exact path (ORDER BY ... LIMIT) decides.
RAW_BOUND_SQL = f"""
SELECT (SELECT count(*) FROM (SELECT 1 FROM historian_sample WHERE tag_id = ANY(%(ids)s) AND ts >= %(a)s
                              AND ts < %(b)s LIMIT %(limit)s) h)
     + (SELECT coalesce(sum(n), 0) FROM {CHUNK_TABLE} c WHERE c.tag_id = ANY(%(ids)s) AND c.ts_from < %(b)s
        AND c.ts_from > %(a)s - interval '{MAX_CHUNK_SPAN}' AND c.ts_to >= %(a)s)
"""  # noqa: S608

_SENT_INT2 = np.dtype([("length", ">i4"), ("value", ">i2")])
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_YEAR_1_US = -62_135_596_800_000_000  # 0001-01-01 and 10000-01-01 in microseconds since 1970: isoformat's range
_YEAR_10000_US = 253_402_300_800_000_000


def _unpack_int2(packed: bytes, whole: bool) -> np.ndarray:
    if not whole:
        return np.frombuffer(packed, dtype=">i2").astype(np.int64)
    if len(packed) <= 20:
        return np.empty(0, dtype=np.int64)
    elements = np.frombuffer(packed, dtype=_SENT_INT2, offset=20)
    if (elements["length"] != 2).any():
        raise ValueError("not an array of 2-byte elements without NULLs")
    return elements["value"].astype(np.int64)


def raw_columns(rows) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each tag's (times in microseconds since 1970, values with NaN for NULL, quality codes) from RAW_BULK_SQL's
    rows, in time order (segments are each in storage order: checked, and sorted when a backfill broke it)."""
    segments: dict[int, list] = {}
    for tag_id, packed_ts, packed_v, packed_q, whole in rows:
        unpack = _unpack_array if whole else _unpack
        ts = unpack(packed_ts)
        if len(ts):
            segments.setdefault(tag_id, []).append((ts, unpack(packed_v).view(np.float64),
                                                    _unpack_int2(packed_q, whole)))
    out = {}
    for tag_id, parts in segments.items():
        parts.sort(key=lambda part: part[0][0])
        ts, vs, qs = (np.concatenate([p[i] for p in parts]) for i in range(3))
        if len(ts) > 1 and not (ts[1:] >= ts[:-1]).all():
            order = np.argsort(ts, kind="stable")
            ts, vs, qs = ts[order], vs[order], qs[order]
        out[tag_id] = (ts + _PG_EPOCH_US, vs, qs)
    return out


class RawSeries:
    """One tag's raw samples as columns. Iterating yields the point dicts (CSV, tests); `json_fragment` is the JSON
    array of them, built from the columns (KilnJSONRenderer uses it)."""

    __slots__ = ("ts", "vs", "qs", "datatype")

    def __init__(self, ts: np.ndarray, vs: np.ndarray, qs: np.ndarray, datatype: str):
        self.ts, self.vs, self.qs, self.datatype = ts, vs, qs, datatype

    def __len__(self) -> int:
        return len(self.ts)

    def _values(self) -> list:
        vs = self.vs
        nan = np.isnan(vs)
        if self.datatype == "INT":
            if (np.abs(vs[~nan]) < 2.0**63).all():
                values = np.where(nan, 0, vs).astype(np.int64).tolist()
            else:
                values = [0 if v != v else int(v) for v in vs.tolist()]
        elif self.datatype == "BOOL":
            values = (vs != 0).tolist()
        else:
            values = vs.tolist()
        for i in np.flatnonzero(nan).tolist():
            values[i] = None
        return values

    def _tails(self) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
        codes, inverse = np.unique(self.qs, return_inverse=True)
        return inverse, [quality_decode(int(c)) for c in codes]

    def __iter__(self):
        inverse, decoded = self._tails()
        if len(self.ts) and self.ts.min() >= _YEAR_1_US and self.ts.max() < _YEAR_10000_US:
            isos = [head[7:-6].decode() for head in _heads(self.ts)]  # '{"ts":"' <ISO>Z '","v":'
        else:
            isos = [_iso_us(us) for us in self.ts.tolist()]
        for iso, v, i in zip(isos, self._values(), inverse.tolist(), strict=True):
            quality, sub = decoded[i]
            point = {"ts": iso, "v": v, "quality": quality}
            if sub:
                point["substatus"] = sub
            yield point

    def __eq__(self, other):
        return list(self) == list(other)

    def json_fragment(self) -> orjson.Fragment | None:
        """The points as JSON, or None where only the point dicts can say it (years outside 1..9999, which
        isoformat refuses, or an integer orjson cannot write)."""
        n = len(self.ts)
        if not n:
            return orjson.Fragment(b"[]")
        if self.ts.min() < _YEAR_1_US or self.ts.max() >= _YEAR_10000_US:
            return None
        try:
            values = orjson.dumps(self._values())[1:-1].split(b",")
        except orjson.JSONEncodeError:
            return None
        inverse, decoded = self._tails()
        tails = [b"," + orjson.dumps({"quality": q, "substatus": s} if s else {"quality": q})[1:] + b","
                 for q, s in decoded]
        ends = tails * n if len(tails) == 1 else np.array(tails, dtype=object)[inverse].tolist()
        ends[-1] = ends[-1][:-1] + b"]"
        # One list of every piece, filled by slice (C loops), then one join: measured 3x faster than joining a
        # chain of zipped tuples.
        parts = [b""] * (3 * n + 1)
        parts[0] = b"["
        parts[1::3], parts[2::3], parts[3::3] = _heads(self.ts), values, ends
        return orjson.Fragment(b"".join(parts))


def _heads(us: np.ndarray) -> list[bytes]:
    """'{"ts":"<ISO 8601>Z","v":' per timestamp (microseconds since 1970), milliseconds (truncated) only when the
    time has a fraction: the spelling of historian.selectors.raw._iso, from integer arithmetic on whole arrays."""
    n = len(us)
    seconds = us // 1_000_000
    frac = us - seconds * 1_000_000
    days = seconds // 86400
    sod = seconds - days * 86400
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    out = np.zeros((n, 37), dtype=np.uint8)
    out[:, :7] = np.frombuffer(b'{"ts":"', dtype=np.uint8)
    zero = ord("0")

    def digits(col: int, value: np.ndarray, width: int) -> None:
        for k in range(width):
            out[:, col + width - 1 - k] = zero + (value // 10**k) % 10

    digits(7, year, 4)
    out[:, 11] = out[:, 14] = ord("-")
    digits(12, month, 2)
    digits(15, day, 2)
    out[:, 17] = ord("T")
    digits(18, sod // 3600, 2)
    out[:, 20] = out[:, 23] = ord(":")
    digits(21, sod // 60 % 60, 2)
    digits(24, sod % 60, 2)
    tail = np.frombuffer(b'Z","v":', dtype=np.uint8)
    has_frac = frac != 0
    out[~has_frac, 26:33] = tail
    if has_frac.any():
        rows = np.flatnonzero(has_frac)
        out[rows, 26] = ord(".")
        ms = frac[rows] // 1000
        for k in range(3):
            out[rows, 29 - k] = zero + (ms // 10**k) % 10
        out[rows, 30:37] = tail
    return out.view("S37").ravel().tolist()


def _iso_us(us: int) -> str:
    from historian.selectors.raw import _iso  # raw imports this module

    return _iso(_EPOCH + timedelta(microseconds=us))
