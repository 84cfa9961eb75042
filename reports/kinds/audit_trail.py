"""audit-trail: audit records over a range with the audit API's filters (Admin only, whatever the definition).

The CSV has the columns of GET /api/audit (old and new values as JSON text); rows come in chain order (seq)
through a server-side cursor.
"""

from __future__ import annotations

import orjson
from django.conf import settings
from django.http import QueryDict

from accounts.filtersets import AuditRecordFilterSet
from accounts.models import AuditRecord
from reports.kinds.base import Param, ReportKind, Section, range_check
from scada.api.renderers import iso_utc
from scada.errors import BadRequest
from scada.roles import Role

__all__ = ["AuditTrailReport"]

COLUMNS = ["id", "ts", "user_id", "username", "action", "object_type", "object_id", "old_value", "new_value",
           "reason", "client_ip", "request_id", "prev_hash", "hash", "hash_alg"]
PDF_COLUMNS = [("ts", "Time"), ("username", "User"), ("action", "Action"), ("object", "Object"),
               ("change", "Old → new"), ("reason", "Reason")]
_FILTERS = ("user", "action", "action_prefix", "object_type", "object_id")


def audit_queryset(params: dict):
    query = QueryDict(mutable=True)
    query["start"], query["end"] = iso_utc(params["start"]), iso_utc(params["end"])
    for name in _FILTERS:
        if params.get(name):
            query[name] = params[name]
    filterset = AuditRecordFilterSet(query, queryset=AuditRecord.objects.all())
    if not filterset.is_valid():
        field, errors = next(iter(filterset.errors.items()))
        raise BadRequest(f"parameters.{field}: {' '.join(errors)}")
    return filterset.qs.order_by("seq")


def _json(value) -> str:
    return "" if value is None else orjson.dumps(value).decode()


class AuditTrailReport(ReportKind):
    name = "audit-trail"
    title = "Audit trail extract"
    description = "Audit records over a range (who, what, when, old and new value, reason), hash-chained."
    min_role = Role.ADMIN
    orientation = "landscape"
    parameters = (
        Param("start", "datetime", default="now-24h", required=True),
        Param("end", "datetime", default="now", required=True),
        *(Param(name, "string") for name in _FILTERS),
    )

    def check(self, definition, params, *, now):
        range_check(params)
        audit_queryset(params)

    def estimate_rows(self, ctx):
        return audit_queryset(ctx.params).count()

    def csv_header(self, ctx):
        return list(COLUMNS)

    def _records(self, ctx):
        total = max(1, self.estimate_rows(ctx))
        for n, r in enumerate(audit_queryset(ctx.params).iterator(chunk_size=2000), start=1):
            yield r
            if n % 2000 == 0:
                ctx.progress(n / total)

    def csv_rows(self, ctx):
        for r in self._records(ctx):
            yield [r.pk, iso_utc(r.ts), r.user_id, r.username, r.action, r.object_type, r.object_id,
                   _json(r.old_value), _json(r.new_value), r.reason, r.client_ip, r.request_id, r.prev_hash,
                   r.hash, r.hash_alg]

    def sections(self, ctx):
        cap = settings.KILN_REPORTS_PDF_MAX_ROWS
        rows, total = [], 0
        for r in self._records(ctx):
            total += 1
            if len(rows) < cap:
                change = f"{_json(r.old_value)[:120]} → {_json(r.new_value)[:120]}" if (
                    r.old_value is not None or r.new_value is not None) else ""
                rows.append([r.ts.astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M:%S"), r.username, r.action,
                             f"{r.object_type}:{r.object_id}" if r.object_type else r.object_id, change,
                             r.reason[:200]])
        note = f"First {cap} of {total} records; the CSV of this report holds them all." if total > cap else ""
        return [Section(title="Audit records", columns=[label if c != "ts" else f"Time ({ctx.zone.key})"
                                                        for c, label in PDF_COLUMNS], rows=rows, note=note,
                        text=f"{total} record(s), in chain order." if total else "No audit records in this range.")]
