"""mode=raw: the stored samples of [start, end) per tag, typed and with their quality, within the point limit."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from django.db import connection, transaction

from historian.chunks import samples_sql
from historian.conf import conf
from historian.constants import quality_decode
from historian.selectors.planning import HistoryTag, suggest_interval
from historian.selectors.raw_bulk import RAW_BOUND_SQL, RAW_BULK_SQL, RawSeries, raw_columns
from scada.errors import BadRequest


def _typed(datatype: str, value):
    if value is None:
        return None
    if datatype == "BOOL":
        return bool(value)
    if datatype == "INT":
        return int(value)
    if datatype == "STRING":
        return value
    return value


def _numeric_postgresql(ids: list[int], start: datetime, end: datetime, limit: int) -> list[tuple]:
    """(tag_id, ts, value, quality) of hot rows and compacted chunks alike, in (tag, time) order.

    A binary cursor (psycopg's C loaders turn timestamps into datetimes several times faster than from text) and
    enough work_mem to sort a day of one-second samples in memory.
    """
    with transaction.atomic(), connection.cursor():
        cur = psycopg.Cursor(connection.connection)
        cur.execute("SET LOCAL work_mem = '64MB'")
        cur.execute(f"SELECT tag_id, ts, value, quality FROM {samples_sql('%(a)s', '%(b)s')} s "  # noqa: S608
                    "ORDER BY tag_id, ts LIMIT %(limit)s", {"ids": ids, "a": start, "b": end, "limit": limit},
                    binary=True)
        return cur.fetchall()


def _bulk_postgresql(ids: list[int], start: datetime, end: datetime, max_points: int):
    """Each tag's samples as columns (historian.selectors.raw_bulk), or None when up to max_points + 1 of them
    might be over the limit: then the exact path (ORDER BY ... LIMIT) decides."""
    params = {"ids": ids, "a": start, "b": end, "limit": max_points + 1}
    with transaction.atomic(), connection.cursor():
        cur = psycopg.Cursor(connection.connection)
        cur.execute(RAW_BOUND_SQL, params, binary=True)
        if cur.fetchone()[0] > max_points:
            return None
        cur.execute(RAW_BULK_SQL, params, binary=True)
        return raw_columns(cur.fetchall())


def _too_many(tags, start: datetime, end: datetime, max_points: int):
    seconds = (end - start).total_seconds()
    hint = suggest_interval(seconds=seconds, tags=len(tags), max_points=max_points)
    raise BadRequest(
        f"The query would return more than {max_points} raw samples; use mode=average (or min, max, ...) "
        f"with interval={hint}, or a shorter time range.",
        extra={"max_points": max_points, "suggested_interval": hint},
    )


def _point(ts, value, code, datatype) -> dict:
    quality, sub = quality_decode(code)
    point = {"ts": _iso(ts), "v": _typed(datatype, value), "quality": quality}
    if sub:
        point["substatus"] = sub
    return point


def _raw(tags: list[HistoryTag], start: datetime, end: datetime) -> dict[int, list[dict]]:
    from historian.models import HistorianSample, HistorianStringSample

    max_points = conf.KILN_HISTORY_MAX_POINTS
    numeric = [t.id for t in tags if t.datatype != "STRING"]
    text = [t.id for t in tags if t.datatype == "STRING"]
    rows = []
    bulk = _bulk_postgresql(numeric, start, end, max_points) if numeric and connection.vendor == "postgresql" else None
    if bulk is not None:
        out: dict[int, list[dict] | RawSeries] = {t.id: [] for t in tags}
        by_tag = {t.id: t for t in tags}
        for tag_id, (ts, vs, qs) in bulk.items():
            out[tag_id] = RawSeries(ts, vs, qs, by_tag[tag_id].datatype)
        n = sum(len(s) for s in out.values())
        if text:
            for tag_id, ts, value, code in HistorianStringSample.objects.filter(
                    tag_id__in=text, ts__gte=start, ts__lt=end).order_by("tag_id", "ts").values_list(
                    "tag_id", "ts", "value", "quality")[: max_points + 1 - n]:
                out[tag_id].append(_point(ts, value, code, "STRING"))
                n += 1
        if n > max_points:
            _too_many(tags, start, end, max_points)
        return out
    if numeric and connection.vendor == "postgresql":
        rows += _numeric_postgresql(numeric, start, end, max_points + 1)
    elif numeric:
        rows += list(HistorianSample.objects.filter(tag_id__in=numeric, ts__gte=start, ts__lt=end)
                     .order_by("tag_id", "ts").values_list("tag_id", "ts", "value", "quality")[: max_points + 1])
    if text and len(rows) <= max_points:
        rows += list(HistorianStringSample.objects.filter(tag_id__in=text, ts__gte=start, ts__lt=end)
                     .order_by("tag_id", "ts").values_list("tag_id", "ts", "value", "quality")[: max_points + 1])
    if len(rows) > max_points:
        _too_many(tags, start, end, max_points)
    by_tag = {t.id: t for t in tags}
    out: dict[int, list[dict]] = {t.id: [] for t in tags}
    decoded: dict[int, tuple[str, str | None]] = {}  # a handful of distinct codes: decode each once
    for tag_id, ts, value, code in rows:
        quality_sub = decoded.get(code)
        if quality_sub is None:
            quality_sub = decoded[code] = quality_decode(code)
        point = {"ts": _iso(ts), "v": _typed(by_tag[tag_id].datatype, value), "quality": quality_sub[0]}
        if quality_sub[1]:
            point["substatus"] = quality_sub[1]
        out[tag_id].append(point)
    return out


def _iso(ts: datetime) -> str:
    """scada.api.renderers.iso_utc's spelling (milliseconds, truncated, only when the time has a fraction), with
    isoformat's C code instead of strftime: a day of one-second samples is 86,400 of these."""
    if ts.utcoffset():
        ts = ts.astimezone(UTC)
    if ts.microsecond:
        return ts.isoformat(timespec="milliseconds")[:23] + "Z"
    return ts.isoformat(timespec="seconds")[:19] + "Z"
