"""alarm-kpis: the ISA-18.2 KPIs of GET /api/alarms/kpis for a range (rate per 10 min, floods, chattering,
stale, shelved, the top 10), with charts, for the monthly alarm review. Figures are the KPI selector's own."""

from __future__ import annotations

from alarms.selectors import alarm_kpis
from reports.kinds.alarm_journal import PRIORITY_COLORS, PRIORITY_ORDER
from reports.kinds.base import Param, ReportKind, Section, range_check
from reports.render.svg import bar_chart

__all__ = ["AlarmKpiReport"]

MAX_DAYS = 31
CSV_COLUMNS = ["section", "alarm_id", "key", "tag", "priority", "count", "percent", "start", "end", "value"]


class AlarmKpiReport(ReportKind):
    name = "alarm-kpis"
    title = "Alarm KPIs (ISA-18.2)"
    description = "Alarm rate per 10 minutes, floods, chattering, stale, shelved and the 10 most frequent alarms."
    parameters = (
        Param("start", "datetime", default="now-7d", required=True),
        Param("end", "datetime", default="now", required=True),
    )

    def check(self, definition, params, *, now):
        range_check(params, max_days=MAX_DAYS)

    def estimate_rows(self, ctx):
        return 100  # a page of figures, whatever the range

    def _kpis(self, ctx) -> dict:
        return alarm_kpis(start=ctx.params["start"], end=ctx.params["end"], now=ctx.now)

    def csv_header(self, ctx):
        return list(CSV_COLUMNS)

    def csv_rows(self, ctx):
        k = self._kpis(ctx)
        rate, floods = k["alarms_per_10min"], k["floods"]
        for name, value in [("annunciated", k["annunciated"]), ("average_per_10min", rate["average"]),
                            ("peak_per_10min", rate["peak"]), ("periods", rate["periods"]),
                            ("flood_threshold", floods["threshold"]), ("flood_periods", floods["count"]),
                            ("flood_percent_of_time", floods["percent_of_time"]),
                            ("stale", k["stale"]["count"]), ("shelved", k["shelved"]["count"])]:
            yield ["summary", "", name, "", "", "", "", k["start"], k["end"], value]
        for priority, count in k["by_priority"].items():
            yield ["by_priority", "", "", "", priority, count, "", "", "", ""]
        for a in k["most_frequent"]:
            yield ["most_frequent", a["alarm_id"], a["key"], a["tag"], a["priority"], a["count"], a["percent"],
                   "", "", ""]
        for f in floods["periods"]:
            yield ["flood", "", "", "", "", f["count"], "", f["start"], f["end"], ""]
        for c in k["chattering"]:
            yield ["chattering", c["alarm_id"], c["key"], c["tag"], c["priority"], c["activations"], "", "", "",
                   c["max_per_minute"]]
        for a in k["stale"]["alarms"]:
            yield ["stale", a["alarm_id"], a["key"], a["tag"], a["priority"], "", "", a["activated_at"], "",
                   a["active_for_seconds"]]
        for a in k["shelved"]["alarms"]:
            yield ["shelved", a["alarm_id"], a["key"], a["tag"], a["priority"], "", "", a["shelved_at"],
                   a["shelved_until"], a["reason"]]

    def sections(self, ctx):
        k = self._kpis(ctx)
        rate, floods = k["alarms_per_10min"], k["floods"]
        summary = Section(
            title="Summary",
            text="ISA-18.2 targets: about 1 alarm per 10 minutes on average (≤ 2 manageable), under 1 % of "
                 f"time in flood (more than {floods['threshold']} alarms in 10 minutes).",
            figures=[("Alarms", str(k["annunciated"])), ("Average / 10 min", str(rate["average"])),
                     ("Peak / 10 min", str(rate["peak"])), ("Flood periods", str(floods["count"])),
                     ("Time in flood", f"{floods['percent_of_time']} %"),
                     ("Chattering", str(len(k["chattering"]))), ("Stale", str(k["stale"]["count"])),
                     ("Shelved", str(k["shelved"]["count"]))],
            charts=[bar_chart(title="Alarms by priority", unit="alarms",
                              bars=[(p.label, k["by_priority"].get(p.value, 0)) for p in PRIORITY_ORDER],
                              colors=PRIORITY_COLORS)])
        top = k["most_frequent"]
        frequent = Section(
            title="Ten most frequent alarms", columns=["Alarm", "Tag", "Priority", "Count", "% of all"],
            rows=[[a["key"], a["tag"], a["priority"], a["count"], a["percent"]] for a in top],
            charts=[bar_chart(title="Most frequent alarms", unit="activations",
                              bars=[(a["key"], a["count"]) for a in top])] if top else [],
            text="" if top else "No alarm in this range.")
        zone = ctx.zone

        def local(ts):
            from datetime import datetime

            return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(zone).strftime("%Y-%m-%d %H:%M")

        flood = Section(title="Flood periods", columns=[f"Start ({zone.key})", f"End ({zone.key})", "Alarms"],
                        rows=[[local(f["start"]), local(f["end"]), f["count"]] for f in floods["periods"]],
                        text="" if floods["periods"] else "No flood.")
        chatter = Section(title="Chattering alarms", columns=["Alarm", "Tag", "Priority", "Activations", "Max / min"],
                          rows=[[c["key"], c["tag"], c["priority"], c["activations"], c["max_per_minute"]]
                                for c in k["chattering"]], text="" if k["chattering"] else "No chattering alarm.")
        stale = Section(title=f"Stale alarms (active over {k['stale']['threshold_hours']} h)",
                        columns=["Alarm", "Tag", "Priority", f"Active since ({zone.key})", "Hours"],
                        rows=[[a["key"], a["tag"], a["priority"], local(a["activated_at"]),
                               round(a["active_for_seconds"] / 3600, 1)] for a in k["stale"]["alarms"]],
                        text="" if k["stale"]["alarms"] else "No stale alarm.")
        shelved = Section(title="Shelved alarms", columns=["Alarm", "Tag", "By", "Reason", f"Until ({zone.key})"],
                          rows=[[a["key"], a["tag"], a["shelved_by"], a["reason"], local(a["shelved_until"])]
                                for a in k["shelved"]["alarms"]], text="" if k["shelved"]["alarms"] else
                          "No shelved alarm.")
        return [summary, frequent, flood, chatter, stale, shelved]
