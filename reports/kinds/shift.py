"""shift: one shift (default 8 h) of the definition's tags — min/max/time-weighted average and a trend of each —
the alarms raised and acknowledged, batches started and closed, and the operators' actions (audit trail).

Everything is read through the owning apps' selectors (historian, alarms, accounts, batches). The tag figures
come from one aggregate query per mode at the chart interval, so the trend and the figures agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from accounts.selectors import audit_records_between
from alarms.selectors import alarm_event_dict
from batches.selectors import batch_queryset, batch_summary
from historian.selectors import HistoryTag, history_query
from reports.kinds.alarm_journal import journal_queryset
from reports.kinds.base import Param, ReportContext, ReportKind, Section
from reports.kinds.tags import tags_resolve
from reports.render.svg import line_chart
from scada.api.renderers import iso_utc
from scada.errors import BadRequest
from tags.display import value_text

__all__ = ["ShiftReport", "OPERATOR_ACTIONS"]

# Audit actions that are an operator's doing on the plant (not logins, not configuration, not reports).
OPERATOR_ACTIONS = ("tag.write", "alarm.", "device.command", "batch.")
SHOWN_EVENTS = ("activated", "acknowledged")
CSV_COLUMNS = ["section", "ts", "subject", "value", "unit", "user", "detail"]


def _dt(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


class ShiftReport(ReportKind):
    name = "shift"
    title = "Shift report"
    description = "A shift of the chosen tags, alarms raised and acknowledged, batches and operator actions."
    parameters = (
        Param("start", "datetime", default="now-8h", required=True, help="When the shift began"),
        Param("hours", "int", default=8, minimum=1, maximum=24, help="Length of the shift"),
        Param("tags", "tags", required=True, help="Default: the report's configured tags"),
        Param("interval", "int", default=300, minimum=10, maximum=3600, help="Trend resolution, seconds"),
    )

    def fills(self, definition, name):
        return name == "tags" and definition.pk is not None and definition.tags.exists()

    def check(self, definition, params, *, now):
        tags = tags_resolve(definition, params["tags"])
        if any(t.datatype == "STRING" for t in tags):
            raise BadRequest("parameters.tags: a shift report shows numeric tags; "
                             f"{', '.join(t.name for t in tags if t.datatype == 'STRING')} is text")
        params["tags"] = [t.name for t in tags]
        params["end"] = params["start"] + timedelta(hours=params["hours"])

    def clean(self, definition, raw, *, now):
        raw = dict(raw or {}) if isinstance(raw, dict) else raw
        if isinstance(raw, dict):
            raw.pop("end", None)  # derived from start + hours (a stored run carries it)
        return super().clean(definition, raw, now=now)

    def estimate_rows(self, ctx):
        return len(ctx.params["tags"]) * 4 + 200  # a summary, not a dump: always small

    def _figures(self, ctx: ReportContext) -> tuple[list, dict]:
        p = ctx.params
        tags = tags_resolve(ctx.definition, p["tags"])
        hist = [HistoryTag(id=t.pk, name=t.name, datatype=t.datatype) for t in tags]
        end = min(p["end"], ctx.now)
        if end <= p["start"]:
            return tags, {t.pk: {"min": None, "max": None, "average": None, "trend": []} for t in tags}
        answers = {mode: history_query(tags=hist, start=p["start"], end=end, mode=mode, interval=p["interval"],
                                       now=ctx.now) for mode in ("min", "max", "average")}
        out = {}
        for t in tags:
            mins = [pt["v"] for pt in answers["min"][t.pk] if pt["v"] is not None]
            maxs = [pt["v"] for pt in answers["max"][t.pk] if pt["v"] is not None]
            avg = answers["average"][t.pk]
            out[t.pk] = {"min": min(mins) if mins else None, "max": max(maxs) if maxs else None,
                         "average": _weighted(avg, p["start"], end),
                         "trend": [(_dt(pt["ts"]).timestamp(), pt["v"]) for pt in avg]}
        return tags, out

    def _alarms(self, ctx):
        # Every alarm of the plant in the shift, through the journal's own filters (raised and acknowledged).
        p = ctx.params
        query = journal_queryset({"start": p["start"], "end": p["end"], "event": list(SHOWN_EVENTS)})
        return [alarm_event_dict(e) for e in query.iterator(chunk_size=2000)]

    def _batches(self, ctx):
        p = ctx.params
        rows = []
        for b in batch_queryset().filter(started_at__lt=p["end"]).exclude(closed_at__lt=p["start"])[:500]:
            s = batch_summary(b)
            started = p["start"] <= b.started_at < p["end"]
            closed = b.closed_at is not None and p["start"] <= b.closed_at < p["end"]
            if started or closed:
                rows.append(s)
        return rows

    def _actions(self, ctx):
        p = ctx.params
        records = audit_records_between(start=p["start"], end=p["end"] - timedelta(microseconds=1))
        return [r for r in records if r.action.startswith(OPERATOR_ACTIONS)]

    def csv_header(self, ctx):
        return list(CSV_COLUMNS)

    def csv_rows(self, ctx) -> Iterator[list]:
        tags, figures = self._figures(ctx)
        ctx.progress(0.5)
        for t in tags:
            f = figures[t.pk]
            for stat in ("min", "max", "average"):
                yield ["tag", iso_utc(ctx.params["start"]), t.name, f[stat], t.unit, "", stat]
        for e in self._alarms(ctx):
            yield ["alarm", e["ts"], e["key"], e["value"], "", e["user"] or "", f"{e['event']} {e['priority']}"]
        for b in self._batches(ctx):
            yield ["batch", b["started_at"], b["lot"], b["status"], "", b["started_by"],
                   f"{b['recipe']} v{b['recipe_version']} on {b['machine']}"]
        for r in self._actions(ctx):
            yield ["action", iso_utc(r.ts), r.object_id, _value(r.new_value), "", r.username, r.action]

    def sections(self, ctx):
        zone = ctx.zone
        tags, figures = self._figures(ctx)
        ctx.progress(0.4)

        def local(ts: str) -> str:
            return _dt(ts).astimezone(zone).strftime("%H:%M:%S") if ts else ""

        summary = Section(title="Tags over the shift", columns=["Tag", "Unit", "Min", "Max", "Average"],
                          rows=[[t.name, t.unit, *(_shown(figures[t.pk][k], t.decimals)
                                                   for k in ("min", "max", "average"))] for t in tags])
        trends = Section(title="Trends", charts=[
            line_chart(title=t.name, unit=t.unit or "(no unit)", series={t.name: figures[t.pk]["trend"]}, zone=zone)
            for t in tags])
        alarms = self._alarms(ctx)
        raised = sum(1 for e in alarms if e["event"] == "activated")
        alarm_section = Section(
            title="Alarms", figures=[("Raised", str(raised)), ("Acknowledged", str(len(alarms) - raised))],
            columns=[f"Time ({zone.key})", "Event", "Priority", "Alarm", "Message", "User"],
            rows=[[local(e["ts"]), e["event"], e["priority"], e["key"], e["message"], e["user"] or ""]
                  for e in alarms], text="" if alarms else "No alarm raised or acknowledged.")
        batches = self._batches(ctx)
        batch_section = Section(
            title="Batches", columns=["Lot", "Recipe", "Machine", "Status", "Started", "Closed", "By"],
            rows=[[b["lot"], f"{b['recipe']} v{b['recipe_version']}", b["machine"], b["status"],
                   _stamp(b["started_at"], zone), _stamp(b["closed_at"], zone), b["started_by"]] for b in batches],
            text="" if batches else "No batch started or closed.")
        actions = self._actions(ctx)
        action_section = Section(
            title="Operator actions", columns=[f"Time ({zone.key})", "User", "Action", "Object", "Value", "Reason"],
            rows=[[r.ts.astimezone(zone).strftime("%H:%M:%S"), r.username, r.action, r.object_id,
                   _value(r.new_value), r.reason[:120]] for r in actions],
            text="" if actions else "No operator action recorded.")
        return [summary, trends, alarm_section, batch_section, action_section]

    def range_text(self, ctx):
        p = ctx.params
        fmt = "%Y-%m-%d %H:%M"
        return (f"{p['start'].astimezone(ctx.zone).strftime(fmt)} to {p['end'].astimezone(ctx.zone).strftime(fmt)} "
                f"({ctx.zone.key}, {p['hours']} h)")


def _weighted(points: list[dict], start: datetime, end: datetime) -> float | None:
    total = weight = 0.0
    bounds = [_dt(p["ts"]) for p in points] + [end]
    for i, point in enumerate(points):
        span = (min(bounds[i + 1], end) - max(bounds[i], start)).total_seconds()
        if point["v"] is not None and span > 0:
            total += point["v"] * span
            weight += span
    return total / weight if weight else None


def _value(new_value) -> str:
    if isinstance(new_value, dict) and "value" in new_value:
        return str(new_value["value"])[:60]
    return ""


def _stamp(ts: str | None, zone) -> str:
    return _dt(ts).astimezone(zone).strftime("%m-%d %H:%M") if ts else ""


def _shown(value, decimals: int | None):
    """A figure as the HMI shows the tag's values (its display decimals); as it is when the tag has none."""
    if decimals is None or value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return value_text(value, decimals)
