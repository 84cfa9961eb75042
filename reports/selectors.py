"""Reads for reports: which definitions a user may run, which runs they may see, and how a run looks in the API."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.urls import reverse

from reports.choices import CONTENT_TYPES, RunStatus
from reports.kinds import kinds
from reports.models import ReportDefinition, ReportRun
from scada.api.renderers import iso_utc
from scada.errors import NotFound
from scada.roles import Role

__all__ = ["definition_min_role", "definitions_for", "definition_get", "definition_dict", "runs_for", "run_get",
           "run_dict"]


def definition_min_role(definition: ReportDefinition) -> int:
    """The least role that may run it: the definition's, never below its kind's own floor (audit-trail: Admin)."""
    kind = kinds().get(definition.kind)
    return max(definition.min_role, kind.min_role if kind else Role.ADMIN)


def definitions_for(user) -> list[ReportDefinition]:
    """Enabled definitions of an installed kind that `user` may run."""
    installed = kinds()
    return [d for d in ReportDefinition.objects.filter(enabled=True, kind__in=list(installed))
            if user.role >= definition_min_role(d)]


def definition_get(*, slug: str, user) -> ReportDefinition:
    """The definition `slug`; 404 when it does not exist, is disabled or is not the caller's to run (a report
    an Operator may not run is not shown to exist)."""
    definition = ReportDefinition.objects.filter(slug=slug, enabled=True, kind__in=list(kinds())).first()
    if definition is None or user.role < definition_min_role(definition):
        raise NotFound(f"Report {slug} not found")
    return definition


def definition_dict(definition: ReportDefinition) -> dict:
    kind = kinds()[definition.kind]
    return {"id": definition.slug, "title": definition.title, "kind": kind.name,
            "description": definition.description or kind.description, "formats": list(kind.formats),
            "min_role": Role(definition_min_role(definition)).label, "parameters": kind.describe(definition)}


def runs_for(user) -> QuerySet[ReportRun]:
    """Runs `user` may see: their own, and scheduled runs (no requester) of reports they may run. Admins: all."""
    qs = ReportRun.objects.select_related("definition", "schedule")
    if user.role >= Role.ADMIN:
        return qs
    slugs = [d.slug for d in definitions_for(user)]
    return qs.filter(Q(user_id=user.id) | Q(user__isnull=True, definition__slug__in=slugs))


def run_get(*, pk, user) -> ReportRun:
    try:
        return runs_for(user).get(pk=int(pk))
    except (ReportRun.DoesNotExist, ValueError, OverflowError):
        raise NotFound(f"Report run {str(pk)[:40]} not found")


def run_dict(run: ReportRun) -> dict:
    done = run.status == RunStatus.DONE and bool(run.file_path)
    return {
        "id": run.pk,
        "report": run.definition.slug,
        "title": run.definition.title,
        "format": run.format,
        "status": run.status,
        "progress": run.progress,
        "message": run.message,
        "parameters": run.parameters,
        "requested_by": run.username or None,
        "schedule": run.schedule.name if run.schedule_id else None,
        "created": iso_utc(run.created),
        "started_at": iso_utc(run.started_at),
        "finished_at": iso_utc(run.finished_at),
        "rows": run.rows,
        "size": run.size,
        "sha256": run.sha256 or None,
        "file_name": run.file_name or None,
        "content_type": CONTENT_TYPES[run.format] if done else None,
        "url": reverse("reports-api:run-detail", kwargs={"pk": run.pk}),
        "download_url": reverse("reports-api:run-download", kwargs={"pk": run.pk}) if done else None,
    }
