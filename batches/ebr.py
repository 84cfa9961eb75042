"""The electronic batch record (EBR): everything a batch did, as one JSON document, in a fixed number of queries.

Two parts, so that what a signature binds is clear (21 CFR Part 11 §11.70):
- the record: batches' own rows (header, parameters planned vs actual, phases with who/when/values, comments,
  deviations). Its SHA-256 (`record_hash`) is what the close signature binds; any later change of these rows
  shows the signature as invalid, in the API and on the page.
- the evidence, read from the other apps through their selectors: tag writes and device commands on the
  batch's machine during the batch (audit trail), alarms raised/acknowledged/shelved during it (journal), and
  min/max/time-weighted average of each recorded tag (historian). Once a batch is closed the evidence shown is
  the one the close signature signed (stored in the Signature's content), so a historian sample arriving late
  cannot change what was signed nor invalidate the signature.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import urlencode

from accounts.selectors import audit_records_between, signature_dict, signatures_for
from accounts.signatures import signature_content_hash
from alarms.selectors import alarm_events_between
from batches.choices import BatchStatus
from batches.models import Batch
from historian.selectors import HistoryTag, history_query
from scada.api.renderers import iso_utc
from scada.errors import KilnError

__all__ = ["batch_record", "batch_evidence", "batch_signed_content", "batch_ebr", "TAG_WRITE_ACTIONS"]

TAG_WRITE_ACTIONS = ("tag.write", "tag.write_failed", "tag.write_refused")
DEVICE_ACTIONS = ("device.command",)


def _phase_dict(run) -> dict:
    ph = run.phase
    return {"position": run.position, "name": ph.name, "instructions": ph.instructions,
            "requirement": ph.requirement, "value_label": ph.value_label, "value_unit": ph.value_unit,
            "value_min": ph.value_min, "value_max": ph.value_max, "status": run.status,
            "started_at": iso_utc(run.started_at), "completed_at": iso_utc(run.completed_at),
            "completed_by": run.completed_by_name or None, "value": run.value,
            "signature_id": run.signature_id}


def batch_record(batch: Batch) -> dict:
    """The batches-owned part of the record (what the close signature's `record_hash` covers).

    Status and close times are left out: closing changes them, and they are shown beside the record.
    """
    recipe = batch.recipe
    return {
        "id": batch.pk, "lot": batch.lot,
        "recipe": {"id": recipe.pk, "name": recipe.name, "version": recipe.version, "title": recipe.title,
                   "approval_hash": recipe.approval_signature.content_hash if recipe.approval_signature else None},
        "machine": batch.machine.machine_id,
        "started_by": batch.started_by.username, "started_at": iso_utc(batch.started_at),
        "completed_at": iso_utc(batch.completed_at), "aborted_at": iso_utc(batch.aborted_at),
        "abort_reason": batch.abort_reason or None,
        "parameters": [
            {"name": p.name, "unit": p.parameter.unit, "planned": p.planned, "actual": p.value,
             "tag": p.tag_name or None, "write_audit_id": p.write_audit_id, "confirmed": p.confirmed,
             "written_at": iso_utc(p.written_at)}
            for p in batch.parameters.select_related("parameter").order_by("parameter__position", "id")],
        "phases": [_phase_dict(run) for run in batch.phases.select_related("phase").order_by("position")],
        "comments": [{"id": c.pk, "at": iso_utc(c.created), "by": c.author_name, "phase": c.phase_position,
                      "text": c.text} for c in batch.comments.order_by("created", "id")],
        "deviations": [{"id": d.pk, "at": iso_utc(d.created), "by": d.reported_by_name, "phase": d.phase_position,
                        "severity": d.severity, "description": d.description}
                       for d in batch.deviations.order_by("created", "id")],
    }


def _window(batch: Batch) -> tuple[datetime, datetime | None]:
    return batch.started_at, batch.ended_at


def _write_row(r) -> dict:
    new = r.new_value if isinstance(r.new_value, dict) else {}
    old = r.old_value if isinstance(r.old_value, dict) else {}
    return {"audit_id": r.pk, "ts": iso_utc(r.ts), "action": r.action, "object": r.object_id, "user": r.username,
            "value": new.get("value"), "previous": old.get("value"), "source": new.get("source"),
            "status": new.get("status"), "error": new.get("error"), "reason": r.reason or None}


def _tag_summaries(batch: Batch, start: datetime, end: datetime | None) -> list[dict]:
    tags = list(batch.recipe.recorded_tags.order_by("name"))
    if not tags:
        return []
    end = end or datetime.now(tz=UTC)
    rows = {t.pk: {"tag": t.name, "unit": t.unit, "min": None, "max": None, "average": None,
                   "history": f"/api/tags/{t.name}/history?" + urlencode({"start": iso_utc(start),
                                                                          "end": iso_utc(end)})} for t in tags}
    numeric = [HistoryTag(id=t.pk, name=t.name, datatype=t.datatype) for t in tags if t.datatype != "STRING"]
    seconds = (end - start).total_seconds()
    if not numeric or seconds <= 0:
        return list(rows.values())
    # One bucket of whole hours at least as long as the batch: the window spans at most two buckets, and whole
    # hours let the historian answer from its 1-hour rollups plus the raw edges.
    interval = max(3600, math.ceil(seconds / 3600) * 3600)
    try:
        answers = {mode: history_query(tags=numeric, start=start, end=end, mode=mode, interval=interval)
                   for mode in ("min", "max", "average")}
    except KilnError as exc:
        for row in rows.values():
            row["error"] = exc.detail
        return list(rows.values())
    for tag in numeric:
        mins = [p["v"] for p in answers["min"].get(tag.id, []) if p["v"] is not None]
        maxs = [p["v"] for p in answers["max"].get(tag.id, []) if p["v"] is not None]
        rows[tag.id]["min"] = min(mins) if mins else None
        rows[tag.id]["max"] = max(maxs) if maxs else None
        rows[tag.id]["average"] = _weighted_average(answers["average"].get(tag.id, []), start, end)
    return list(rows.values())


def _weighted_average(points: list[dict], start: datetime, end: datetime) -> float | None:
    # Each bucket's time-weighted mean, weighted by the part of the window it covers.
    total = weight = 0.0
    bounds = [datetime.fromisoformat(p["ts"].replace("Z", "+00:00")) for p in points] + [end]
    for i, point in enumerate(points):
        span = (min(bounds[i + 1], end) - max(bounds[i], start)).total_seconds()
        if point["v"] is not None and span > 0:
            total += point["v"] * span
            weight += span
    return total / weight if weight else None


def batch_evidence(batch: Batch) -> dict:
    """What the other apps recorded on the batch's machine while it ran (see the module docstring)."""
    start, end = _window(batch)
    machine = batch.machine
    tag_names = set(machine.tags.values_list("name", flat=True))
    tag_names |= {p.tag_name for p in batch.parameters.all() if p.tag_name}
    recorded = list(batch.recipe.recorded_tags.values_list("name", flat=True))
    writes = audit_records_between(start=start, end=end, object_type="tag",
                                   object_ids=sorted(tag_names | set(recorded)), actions=TAG_WRITE_ACTIONS)
    commands = audit_records_between(start=start, end=end, object_type="machine", object_ids=[machine.machine_id],
                                     actions=DEVICE_ACTIONS)
    return {
        "window": {"start": iso_utc(start), "end": iso_utc(end)},
        "tag_writes": [_write_row(r) for r in writes],
        "device_commands": [_write_row(r) for r in commands],
        "alarms": alarm_events_between(start=start, end=end, machine_ids=[machine.machine_id], tag_names=recorded),
        "recorded_tags": _tag_summaries(batch, start, end),
    }


def batch_signed_content(batch: Batch) -> dict:
    """What a close signature signs: the record, its hash, and the evidence as it stands."""
    record = batch_record(batch)
    return {"record": record, "record_hash": signature_content_hash(record), "evidence": batch_evidence(batch)}


def batch_ebr(batch: Batch) -> dict:
    """The full EBR (GET /api/batches/{id}): header, record, evidence, signatures with their validity."""
    record = batch_record(batch)
    record_hash = signature_content_hash(record)
    close = batch.close_signature
    evidence = None
    if batch.status == BatchStatus.CLOSED and close is not None and isinstance(close.content, dict):
        evidence = close.content.get("evidence")  # what was signed, whatever arrived since
    if evidence is None:
        evidence = batch_evidence(batch)
    signatures = []
    for sig in signatures_for(object_type="batch", object_ids=[batch.pk]):
        row = signature_dict(sig)
        content = sig.content if isinstance(sig.content, dict) else {}
        if "record_hash" in content:  # a close or verification signature: it binds the record as it was
            row["valid"] = row["valid"] and content["record_hash"] == record_hash
            row["kind"] = "verify" if sig.pk == batch.verify_signature_id else "close"
        else:
            row["kind"] = "phase"
            row["phase"] = content.get("phase")
        signatures.append(row)
    return {
        **record,
        "status": batch.status, "closed_at": iso_utc(batch.closed_at),
        "current_phase": batch.current_phase,
        "requires_verification": batch.recipe.requires_verification,
        "evidence": evidence,
        "signatures": signatures,
        "record_hash": record_hash,
        "signed_hash": batch.signed_hash or None,
        "record_unchanged_since_signing": (batch.signed_hash == record_hash) if batch.signed_hash else None,
    }
