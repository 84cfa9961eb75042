"""batch-record: the electronic batch record of one batch (batches.selectors.batch_ebr), with its signatures
shown as the batch page shows them: printed name, meaning, time, reason, and whether each still verifies."""

from __future__ import annotations

from datetime import datetime

from batches.selectors import batch_ebr, batch_get
from reports.kinds.base import Param, ReportKind, Section
from scada.errors import BadRequest, NotFound

__all__ = ["BatchRecordReport"]

CSV_COLUMNS = ["section", "ts", "subject", "value", "unit", "user", "detail"]


def _local(ts: str | None, zone) -> str:
    if not ts:
        return ""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


class BatchRecordReport(ReportKind):
    name = "batch-record"
    title = "Batch record"
    description = "The electronic batch record of one batch, with its e-signatures."
    parameters = (Param("batch", "int", required=True, minimum=1, help="The batch's id"),)

    def check(self, definition, params, *, now):
        try:
            batch_get(pk=params["batch"])
        except NotFound as exc:
            raise BadRequest(f"parameters.batch: {exc.detail}")

    def estimate_rows(self, ctx):
        return 200

    def _ebr(self, ctx) -> dict:
        return batch_ebr(batch_get(pk=ctx.params["batch"]))

    def range_text(self, ctx):
        return ""

    def csv_header(self, ctx):
        return list(CSV_COLUMNS)

    def csv_rows(self, ctx):
        e = self._ebr(ctx)
        yield ["header", e["started_at"], e["lot"], e["status"], "", e["started_by"],
               f"{e['recipe']['name']} v{e['recipe']['version']} on {e['machine']}; record_hash {e['record_hash']}"]
        for p in e["parameters"]:
            yield ["parameter", p["written_at"], p["name"], p["actual"], p["unit"], "", f"planned {p['planned']}"]
        for ph in e["phases"]:
            yield ["phase", ph["completed_at"] or ph["started_at"], f"{ph['position']} {ph['name']}", ph["value"],
                   ph["value_unit"], ph["completed_by"] or "", ph["status"]]
        for c in e["comments"]:
            yield ["comment", c["at"], f"phase {c['phase']}" if c["phase"] else "", "", "", c["by"], c["text"]]
        for d in e["deviations"]:
            yield ["deviation", d["at"], d["severity"], "", "", d["by"], d["description"]]
        ev = e["evidence"] or {}
        for w in ev.get("tag_writes", []) + ev.get("device_commands", []):
            yield ["write", w["ts"], w["object"], w["value"], "", w["user"], w["action"]]
        for a in ev.get("alarms", []):
            yield ["alarm", a["ts"], a["key"], a["value"], "", a["user"] or "", a["event"]]
        for t in ev.get("recorded_tags", []):
            yield ["recorded_tag", "", t["tag"], t["average"], t["unit"], "", f"min {t['min']} max {t['max']}"]
        for s in e["signatures"]:
            yield ["signature", s["signed_at"], s["meaning"], "valid" if s["valid"] else "INVALID", "", s["signer"],
                   f"{s['printed_name']}: {s['reason']}"]

    def sections(self, ctx):
        e = self._ebr(ctx)
        zone = ctx.zone
        ev = e["evidence"] or {}
        header = Section(title=f"Batch {e['lot']}", figures=[
            ("Recipe", f"{e['recipe']['name']} v{e['recipe']['version']}"), ("Machine", e["machine"]),
            ("Status", e["status"]), ("Started", _local(e["started_at"], zone)),
            ("Completed", _local(e["completed_at"] or e["aborted_at"], zone)), ("Closed", _local(e["closed_at"], zone)),
            ("Started by", e["started_by"])],
            text=f"Record SHA-256 {e['record_hash']}" + (
                "" if e["record_unchanged_since_signing"] in (None, True) else
                " — CHANGED since it was signed: the close signature no longer covers it."))
        sections = [header,
                    Section(title="Parameters", columns=["Parameter", "Unit", "Planned", "Actual", "Tag", "Written"],
                            rows=[[p["name"], p["unit"], p["planned"], p["actual"], p["tag"] or "",
                                   _local(p["written_at"], zone)] for p in e["parameters"]]),
                    Section(title="Phases", columns=["#", "Phase", "Status", f"Started ({zone.key})", "Completed",
                                                     "By", "Value"],
                            rows=[[ph["position"], ph["name"], ph["status"], _local(ph["started_at"], zone),
                                   _local(ph["completed_at"], zone), ph["completed_by"] or "",
                                   "" if ph["value"] is None else f"{ph['value']} {ph['value_unit'] or ''}".strip()]
                                  for ph in e["phases"]])]
        if e["comments"] or e["deviations"]:
            sections.append(Section(title="Comments and deviations", columns=["Time", "By", "Kind", "Text"], rows=[
                *[[_local(c["at"], zone), c["by"], "comment", c["text"]] for c in e["comments"]],
                *[[_local(d["at"], zone), d["by"], f"deviation ({d['severity']})", d["description"]]
                  for d in e["deviations"]]]))
        writes = ev.get("tag_writes", []) + ev.get("device_commands", [])
        sections.append(Section(title="Writes and commands during the batch",
                                columns=["Time", "User", "Action", "Object", "Value", "Previous"],
                                rows=[[_local(w["ts"], zone), w["user"], w["action"], w["object"], w["value"],
                                       w["previous"]] for w in writes], text="" if writes else "None."))
        alarms = ev.get("alarms", [])
        sections.append(Section(title="Alarms during the batch", columns=["Time", "Event", "Priority", "Alarm", "User"],
                                rows=[[_local(a["ts"], zone), a["event"], a["priority"], a["key"], a["user"] or ""]
                                      for a in alarms], text="" if alarms else "None."))
        if ev.get("recorded_tags"):
            sections.append(Section(title="Recorded tags", columns=["Tag", "Unit", "Min", "Max", "Average"],
                                    rows=[[t["tag"], t["unit"], t["min"], t["max"], t["average"]]
                                          for t in ev["recorded_tags"]]))
        sections.append(Section(
            title="Electronic signatures (21 CFR Part 11)",
            columns=["Signed", "Printed name", "User", "Meaning", "Reason", "Kind", "Verifies"],
            rows=[[_local(s["signed_at"], zone), s["printed_name"], s["signer"], s["meaning"], s["reason"],
                   s.get("kind", ""), "yes" if s["valid"] else "NO"] for s in e["signatures"]],
            text="" if e["signatures"] else "Not signed."))
        return sections
