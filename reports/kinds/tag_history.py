"""tag-history: chosen tags over a range, mode and interval (the historian's query), a chart per unit and a table.

The CSV streams: the range is read in windows of at most KILN_REPORTS_CHUNK_POINTS points (aligned to the
interval, so no bucket is split), each written out before the next is read, so memory stays flat whatever the
range. Rows come in time order, then in the order the tags were named.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings

from historian.constants import MODES
from historian.selectors import HistoryTag, history_query
from reports.kinds.base import Param, ReportContext, ReportKind, Section, range_check
from reports.kinds.tags import tags_resolve
from reports.render.svg import line_chart
from scada.errors import BadRequest
from tags.display import value_text

__all__ = ["TagHistoryReport", "history_windows"]

MAX_INTERVAL = 366 * 86400
RAW_WINDOW_SECONDS = 3600

def history_windows(start: datetime, end: datetime, interval: int, n_tags: int,
                    chunk_points: int) -> Iterator[tuple[datetime, datetime]]:
    """[a, b) windows covering [start, end), each holding at most ~chunk_points buckets over all tags, with every
    inner edge on a multiple of `interval` since the epoch (where the historian's buckets start)."""
    buckets = max(1, chunk_points // max(1, n_tags))
    span = buckets * interval
    s = start.timestamp()
    edge = (math.floor(s / interval) * interval) + span
    a = start
    while a < end:
        b = min(end, datetime.fromtimestamp(edge, tz=UTC))
        yield a, b
        a, edge = b, edge + span

class TagHistoryReport(ReportKind):
    name = "tag-history"
    title = "Tag history"
    description = "Chosen tags over a range: a trend chart per unit and a table of values."
    parameters = (
        Param("tags", "tags", required=True, help="Tag names; default: the report's configured tags"),
        Param("start", "datetime", default="now-24h", required=True),
        Param("end", "datetime", default="now", required=True),
        Param("mode", "choice", default="average", choices=MODES),
        Param("interval", "int", default=60, minimum=1, maximum=MAX_INTERVAL,
              help="Bucket size in seconds (aggregate modes)"),
    )
    orientation = "landscape"

    def fills(self, definition, name):
        return name == "tags" and definition.pk is not None and definition.tags.exists()

    def check(self, definition, params, *, now):
        range_check(params)
        tags = tags_resolve(definition, params["tags"])
        params["tags"] = [t.name for t in tags]
        if params["mode"] != "raw":
            if any(t.datatype == "STRING" for t in tags):
                raise BadRequest("parameters.mode: aggregates need numeric tags; use mode=raw for STRING tags")
            buckets = math.ceil((params["end"] - params["start"]).total_seconds() / params["interval"])
            if buckets * len(tags) > settings.KILN_REPORTS_MAX_ROWS:
                raise BadRequest(f"parameters.interval: {buckets * len(tags)} rows is over the "
                                 f"{settings.KILN_REPORTS_MAX_ROWS} a report may hold; choose a longer interval")

    def _tags(self, ctx: ReportContext) -> list:
        return tags_resolve(ctx.definition, ctx.params["tags"])

    def estimate_rows(self, ctx):
        p = ctx.params
        seconds = max(0.0, (min(p["end"], ctx.now) - p["start"]).total_seconds())
        if p["mode"] == "raw":
            # Unknown without reading; assume one change per tag every 10 s (a busy tag) so big ranges queue.
            return int(len(p["tags"]) * seconds / 10)
        return int(len(p["tags"]) * math.ceil(seconds / p["interval"]))

    def csv_header(self, ctx):
        return ["tag", "ts", "v", "quality", "substatus"] if ctx.params["mode"] == "raw" else ["tag", "ts", "v"]

    def _series(self, ctx: ReportContext, tags: list, start: datetime, end: datetime) -> dict[int, list[dict]]:
        p = ctx.params
        return history_query(tags=tags, start=start, end=end, mode=p["mode"],
                             interval=p["interval"] if p["mode"] != "raw" else None, now=ctx.now)

    def points(self, ctx: ReportContext) -> Iterator[tuple[str, dict]]:
        """(tag name, point) in time order, window by window."""
        p = ctx.params
        tags = [HistoryTag(id=t.pk, name=t.name, datatype=t.datatype) for t in self._tags(ctx)]
        end = min(p["end"], ctx.now)
        if end <= p["start"]:
            return
        if p["mode"] == "raw":
            windows = list(history_windows(p["start"], end, RAW_WINDOW_SECONDS, 1, 1))
        else:
            windows = list(history_windows(p["start"], end, p["interval"], len(tags),
                                           settings.KILN_REPORTS_CHUNK_POINTS))
        total = (end - p["start"]).total_seconds()
        names = [t.name for t in tags]
        for a, b in windows:
            data = self._series(ctx, tags, a, b)
            series = [data[t.id] for t in tags]
            if p["mode"] != "raw" and len({len(s) for s in series}) == 1:
                # Aggregates: one point per bucket for every tag, on the same bucket times; no merge needed.
                for points in zip(*series, strict=True):
                    yield from zip(names, points, strict=True)
            else:
                # Raw samples: each series is in time order; merge by time, ties in the order the tags were named.
                merged = heapq.merge(*(_keyed(data[t.id], i, t.name) for i, t in enumerate(tags)))
                for _key, _i, _j, name, point in merged:
                    yield name, point
            ctx.progress((b - p["start"]).total_seconds() / total)

    # Tag names start with a letter (the tag name rule) and times with a digit: no formula can start them.
    csv_trusted_columns = (0, 1)

    def csv_rows(self, ctx):
        raw = ctx.params["mode"] == "raw"
        for name, pt in self.points(ctx):
            v = pt["v"]
            v = int(v) if isinstance(v, bool) else v  # booleans as 1/0, as the history API's CSV
            if raw:
                yield [name, pt["ts"], v, pt["quality"], pt.get("substatus") or ""]
            else:
                yield [name, pt["ts"], v]

    def sections(self, ctx):
        p = ctx.params
        tags = self._tags(ctx)
        by_name = {t.name: t for t in tags}
        series: dict[str, list[tuple[float, float | None]]] = {t.name: [] for t in tags}
        table: list[list] = []
        cap = settings.KILN_REPORTS_PDF_MAX_ROWS
        rows = 0
        for name, pt in self.points(ctx):
            v = pt["v"]
            number = float(v) if isinstance(v, int | float) else None
            series[name].append((_epoch(pt["ts"]), number))
            rows += 1
            if len(table) < cap:
                table.append([_local(pt["ts"], ctx), name, _fmt(v, by_name[name].decimals), by_name[name].unit])
        units: dict[str, list[str]] = {}
        for t in tags:
            if t.datatype != "STRING":
                units.setdefault(t.unit or "(no unit)", []).append(t.name)
        charts = [line_chart(title=f"{', '.join(names[:6])}{' …' if len(names) > 6 else ''}", unit=unit,
                             series={n: series[n] for n in names}, zone=ctx.zone)
                  for unit, names in units.items()]
        mode = p["mode"] if p["mode"] == "raw" else f"{p['mode']} per {_span(p['interval'])}"
        out = [Section(title="Trends", text=f"{len(tags)} tag(s), {mode}.", charts=charts)]
        note = f"First {cap} of {rows} rows; the CSV of this report holds them all." if rows > cap else ""
        out.append(Section(title="Values", columns=[f"Time ({ctx.zone.key})", "Tag", "Value", "Unit"],
                           rows=table, note=note))
        return out

def _keyed(points: list[dict], i: int, name: str):
    # iso_utc drops ".000" on whole seconds; pad so the text sorts as time ("…00Z" would sort after "…00.5Z").
    for j, pt in enumerate(points):
        ts = pt["ts"]
        yield (ts[:19] + ".000Z" if len(ts) == 20 else ts), i, j, name, pt


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()

def _local(ts: str, ctx: ReportContext) -> str:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M:%S")

def _fmt(v, decimals: int | None = None) -> str:
    # The PDF shows values as the HMI does, with the tag's display decimals; the CSV keeps them whole.
    if v is None:
        return "—"
    if decimals is not None and isinstance(v, int | float) and not isinstance(v, bool):
        return value_text(v, decimals)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)

def _span(seconds: int) -> str:
    return str(timedelta(seconds=seconds)) if seconds % 60 else (
        f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min")
