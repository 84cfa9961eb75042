"""alarm-journal: the alarm journal over a range with the journal's own filters, plus counts by priority.

Filtering is the journal API's own filterset (alarms.filtersets.AlarmEventFilterSet), so a report and
GET /api/alarms/history?format=csv agree row for row; the CSV has the same columns. Rows come oldest first (a
filed report reads down in time) through a server-side cursor, so memory stays flat.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count
from django.http import QueryDict

from alarms import selectors as alarm_selectors
from alarms.api.views import CSV_COLUMNS
from alarms.choices import AlarmEventType, AlarmPriority, AlarmState
from alarms.filtersets import AlarmEventFilterSet
from reports.kinds.base import Param, ReportKind, Section, range_check
from reports.render.svg import bar_chart
from scada.api.renderers import iso_utc
from scada.errors import BadRequest

__all__ = ["AlarmJournalReport", "PRIORITY_ORDER"]

PRIORITY_ORDER = [AlarmPriority.CRITICAL, AlarmPriority.HIGH, AlarmPriority.MEDIUM, AlarmPriority.LOW]
# Critical to low, as the HMI's alarm banner shows them (red, orange, yellow, blue).
PRIORITY_COLORS = ["#c62828", "#ef6c00", "#f9a825", "#1565c0"]
PDF_COLUMNS = [("ts", "Time"), ("event", "Event"), ("priority", "Priority"), ("tag", "Tag"), ("key", "Alarm"),
               ("value", "Value"), ("message", "Message"), ("user", "User")]


def journal_queryset(params: dict):
    """The journal rows the parameters select, oldest first (the journal API's filters)."""
    query = QueryDict(mutable=True)
    query["start"], query["end"] = iso_utc(params["start"]), iso_utc(params["end"])
    for name in ("tag", "machine", "user"):
        if params.get(name):
            query[name] = params[name]
    for name in ("priority", "state", "event"):
        if params.get(name):
            query.setlist(name, params[name])
    filterset = AlarmEventFilterSet(query, queryset=alarm_selectors.alarm_event_queryset())
    if not filterset.is_valid():
        field, errors = next(iter(filterset.errors.items()))
        raise BadRequest(f"parameters.{field}: {' '.join(errors)}")
    return filterset.qs.order_by("ts", "id")


class AlarmJournalReport(ReportKind):
    name = "alarm-journal"
    title = "Alarm journal"
    description = "Every alarm event in a range (activations, acknowledgements, shelving...), counts by priority."
    parameters = (
        Param("start", "datetime", default="now-24h", required=True),
        Param("end", "datetime", default="now", required=True),
        Param("priority", "choices", default=[], choices=tuple(AlarmPriority.values)),
        Param("event", "choices", default=[], choices=tuple(AlarmEventType.values)),
        Param("state", "choices", default=[], choices=tuple(AlarmState.values)),
        Param("tag", "string"),
        Param("machine", "string"),
        Param("user", "string"),
    )
    orientation = "landscape"

    def check(self, definition, params, *, now):
        range_check(params)
        journal_queryset(params)  # the filterset's own refusals, before anything is queued

    def estimate_rows(self, ctx):
        return journal_queryset(ctx.params).count()

    def csv_header(self, ctx):
        return list(CSV_COLUMNS)

    def _events(self, ctx):
        total = max(1, self.estimate_rows(ctx))
        for n, event in enumerate(journal_queryset(ctx.params).iterator(chunk_size=2000), start=1):
            yield alarm_selectors.alarm_event_dict(event)
            if n % 2000 == 0:
                ctx.progress(n / total)

    def csv_rows(self, ctx):
        for row in self._events(ctx):
            yield [row[c] for c in CSV_COLUMNS]

    def counts(self, ctx) -> dict[str, int]:
        found = dict(journal_queryset(ctx.params).order_by().values_list("priority").annotate(n=Count("id")))
        return {p.label: found.get(p.value, 0) for p in PRIORITY_ORDER}

    def sections(self, ctx):
        counts = self.counts(ctx)
        cap = settings.KILN_REPORTS_PDF_MAX_ROWS
        rows, total = [], 0
        for row in self._events(ctx):
            total += 1
            if len(rows) < cap:
                rows.append([_local(row["ts"], ctx) if c == "ts" else row[c] for c, _ in PDF_COLUMNS])
        summary = Section(title="Events by priority", figures=[(k, str(v)) for k, v in counts.items()],
                          charts=[bar_chart(title="Events by priority", bars=list(counts.items()), unit="events",
                                            colors=PRIORITY_COLORS)])
        note = f"First {cap} of {total} events; the CSV of this report holds them all." if total > cap else ""
        return [summary, Section(title="Journal", columns=[label if c != "ts" else f"Time ({ctx.zone.key})"
                                                           for c, label in PDF_COLUMNS], rows=rows, note=note,
                                 text="" if total else "No alarm events in this range.")]


def _local(ts: str, ctx) -> str:
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M:%S")
