"""Writes for reports: asking for a run, generating it (in the Celery worker, or at once when small), cancelling
it, handing its file out, and dropping files past their retention. Every step is audited.

A request is checked in full (format, every parameter) before a run exists, so a bad one is a 400 naming the
parameter and leaves nothing behind. Relative times ("now-8h") are resolved when the run is asked for and the run
keeps the resolved values, so a report generated later still covers what the user asked for.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from reports.choices import FINISHED_STATUSES, ReportFormat, RunStatus
from reports.kinds import Cancelled, ReportContext, kind_get, plant_zone
from reports.models import ReportDefinition, ReportRun
from reports.render.csvfile import csv_write
from reports.render.pdf import pdf_write, report_html
from scada.api.renderers import iso_utc
from scada.errors import BadRequest, Conflict, KilnError, NotFound

__all__ = ["QueueUnavailable", "report_request", "report_run_enqueue", "report_run_execute", "report_run_cancel",
           "report_run_file", "report_runs_purge", "reports_dir"]

logger = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 0.5


class QueueUnavailable(KilnError):
    status_code = 503
    default_detail = "Report queue unavailable: try again shortly."


def _requester(run: ReportRun):
    """Who asked for the run, for the audit records the worker writes (None: a schedule)."""
    return SimpleNamespace(id=run.user_id, username=run.username) if run.user_id else None


def reports_dir() -> Path:
    return Path(settings.KILN_REPORTS_DIR)


def _jsonable(params: dict) -> dict:
    return {k: iso_utc(v) if isinstance(v, datetime) else v for k, v in params.items()}


def report_request(*, definition: ReportDefinition, user, format: str, parameters, now: datetime | None = None
                   ) -> tuple[ReportRun, bool]:
    """Check a request and record the run (queued); returns (run, small) where small means "generate it now".

    Small is a CSV of at most KILN_REPORTS_INLINE_MAX_ROWS estimated rows: writing it costs less than queueing
    it. Every PDF goes to the worker (WeasyPrint holds the CPU for a while, which the web process must not).
    """
    kind = kind_get(definition.kind)
    if format not in kind.formats:
        raise BadRequest(f"format: expected one of {', '.join(kind.formats)}")
    now = now or timezone.now()
    cleaned = kind.clean(definition, parameters, now=now)
    estimate = kind.estimate_rows(ReportContext(definition=definition, params=cleaned, now=now))
    with transaction.atomic():
        run = ReportRun.objects.create(definition=definition, user_id=user.id, username=user.username, format=format,
                                       parameters=_jsonable(cleaned))
        audit_record(action="report.requested", user=user, object_type="report_run", object_id=run.pk,
                     new_value={"report": definition.slug, "format": format, "parameters": run.parameters,
                                "estimated_rows": estimate})
    small = format == ReportFormat.CSV and estimate <= settings.KILN_REPORTS_INLINE_MAX_ROWS
    return run, small


def report_run_enqueue(run: ReportRun) -> None:
    """Queue the run for the reports worker once the transaction commits; 503 when the broker is down."""
    from reports.tasks import report_generate_task

    try:
        report_generate_task.delay_on_commit(run.pk)
    except Exception as exc:  # the broker (Redis) is down: say so now rather than leave a run queued forever
        logger.warning("Could not queue report run %s: %s", run.pk, exc)
        ReportRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED, message="The report queue was unavailable.", finished_at=timezone.now())
        raise QueueUnavailable()


class _Progress:
    """The run's progress hook: writes the percentage at most every half second, and checks for a cancel then."""

    def __init__(self, run_id: int):
        self.run_id, self.last, self.percent = run_id, 0.0, 0

    def __call__(self, fraction: float) -> None:
        percent = max(0, min(99, int(fraction * 100)))  # 100 only once the file is complete
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS or percent <= self.percent:
            return
        self.last, self.percent = now, percent
        ReportRun.objects.filter(pk=self.run_id, status=RunStatus.RUNNING).update(progress=percent)
        if ReportRun.objects.filter(pk=self.run_id, cancel_requested=True).exists():
            raise Cancelled()


def _meta(run: ReportRun, kind, ctx: ReportContext) -> list[tuple[str, str]]:
    meta = [("Site", settings.KILN_PLANT_NAME)]
    if kind.range_text(ctx):
        meta.append(("Range", kind.range_text(ctx)))
    for p in kind.parameters:
        value = ctx.params.get(p.name)
        if p.name not in ("start", "end") and value not in (None, [], ""):
            meta.append((p.label or p.name.replace("_", " ").capitalize(),
                         ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    zone = plant_zone()
    meta.append(("Generated", f"{ctx.now.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key}) by "
                              f"{run.username or ('schedule ' + run.schedule.name if run.schedule_id else 'Kiln')}"))
    meta.append(("Report run", f"#{run.pk}"))
    return meta


def _build(run: ReportRun, path: Path, progress) -> int:
    """Write the run's file to `path`; the number of rows it holds."""
    definition = run.definition
    kind = kind_get(definition.kind)
    now = run.created
    params = kind.clean(definition, run.parameters, now=now)
    ctx = ReportContext(definition=definition, params=params, now=now, username=run.username, progress=progress)
    if run.format == ReportFormat.CSV:
        return csv_write(path, kind.csv_header(ctx), kind.csv_rows(ctx), trusted=kind.csv_trusted_columns)
    sections = kind.sections(ctx)
    progress(0.9)
    logo = Path(definition.logo.path) if definition.logo and os.path.exists(definition.logo.path) else None
    zone = plant_zone()
    generated = (f"{definition.title} · generated {ctx.now.astimezone(zone):%Y-%m-%d %H:%M} {zone.key} by "
                 f"{run.username or 'Kiln (scheduled)'} · run #{run.pk}")
    html = report_html(title=definition.title, meta=_meta(run, kind, ctx), sections=sections,
                       plant=settings.KILN_PLANT_NAME, generated=generated, subtitle=kind.range_text(ctx),
                       logo=logo, size=definition.page_size,
                       orientation=kind.orientation)
    pdf_write(path, html, logo=logo)
    return sum(len(s.rows) for s in sections)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _finish(run_id: int, status: str, message: str = "", **fields) -> None:
    ReportRun.objects.filter(pk=run_id).update(status=status, message=message[:2000], finished_at=timezone.now(),
                                               **fields)


def report_run_execute(*, run_id: int) -> ReportRun | None:
    """Generate a queued run: claim it (queued → running, once), write its file, record the outcome and audit it.

    Idempotent: a run already claimed, finished or cancelled is left alone (None), so a redelivered task is
    harmless. A bad parameter found now (a tag deleted since) fails the run with that message.
    """
    claimed = ReportRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), progress=0)
    if claimed != 1:
        return None
    run = ReportRun.objects.select_related("definition", "schedule").get(pk=run_id)
    definition = run.definition
    local = run.created.astimezone(plant_zone())
    file_name = f"{definition.slug}-{local:%Y%m%d-%H%M}-{run.pk}.{run.format}"
    relative = Path(f"{local:%Y/%m}") / file_name
    target = reports_dir() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{file_name}.partial")
    try:
        rows = _build(run, partial, _Progress(run.pk))
        os.replace(partial, target)  # the file appears whole or not at all
    except Cancelled:
        partial.unlink(missing_ok=True)
        _finish(run.pk, RunStatus.CANCELLED, "Cancelled while generating.")
        audit_record(action="report.cancelled", user=_requester(run),
                     object_type="report_run", object_id=run.pk, new_value={"report": definition.slug})
        return ReportRun.objects.get(pk=run.pk)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, KilnError):
            message = exc.detail
        else:
            logger.exception("Report run %s failed", run.pk)
            message = f"Generation failed: {type(exc).__name__}"
        _finish(run.pk, RunStatus.FAILED, message)
        audit_record(action="report.failed", user=_requester(run),
                     object_type="report_run", object_id=run.pk,
                     new_value={"report": definition.slug, "format": run.format, "message": message})
        return ReportRun.objects.get(pk=run.pk)
    sha, size = _sha256(target), target.stat().st_size
    with transaction.atomic():
        _finish(run.pk, RunStatus.DONE, progress=100, file_path=relative.as_posix(), file_name=file_name,
                size=size, sha256=sha, rows=rows)
        audit_record(action="report.generated", user=_requester(run),
                     object_type="report_run", object_id=run.pk,
                     new_value={"report": definition.slug, "format": run.format, "parameters": run.parameters,
                                "file": file_name, "size": size, "sha256": sha, "rows": rows,
                                "schedule": run.schedule.name if run.schedule_id else None})
    run = ReportRun.objects.select_related("definition", "schedule").get(pk=run.pk)
    if run.schedule_id:
        from reports.schedules import report_run_email

        report_run_email(run, target)
        run.refresh_from_db()
    return run


def report_run_cancel(*, run: ReportRun, user) -> ReportRun:
    """Cancel a queued run at once, or ask a running one to stop at its next progress step; 409 once finished."""
    if run.status in FINISHED_STATUSES:
        raise Conflict(f"Report run {run.pk} is already {run.status}")
    with transaction.atomic():
        if not ReportRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
                status=RunStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now(),
                message=f"Cancelled by {user.username}."):
            ReportRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested=True)
        audit_record(action="report.cancel", user=user, object_type="report_run", object_id=run.pk,
                     old_value={"status": run.status}, new_value={"report": run.definition.slug})
    run.refresh_from_db()
    return run


def report_run_file(*, run: ReportRun, user) -> Path:
    """The path of a finished run's file, audited as a download; 404 before it is done or after retention."""
    if run.status != RunStatus.DONE:
        raise Conflict(f"Report run {run.pk} is {run.status}; its file is not ready")
    path = reports_dir() / run.file_path if run.file_path else None
    if path is None or not path.is_file():
        raise NotFound(f"The file of report run {run.pk} is no longer kept "
                       f"(files are kept {settings.KILN_REPORTS_RETENTION_DAYS} days)")
    audit_record(action="report.downloaded", user=user, object_type="report_run", object_id=run.pk,
                 new_value={"report": run.definition.slug, "file": run.file_name, "sha256": run.sha256})
    return path


def report_runs_purge(*, now: datetime | None = None) -> dict[str, int]:
    """Delete files older than KILN_REPORTS_RETENTION_DAYS (the run and its audit records stay) and fail runs a
    lost worker left running; audited when anything was done."""
    now = now or timezone.now()
    removed = 0
    cutoff = now - timedelta(days=settings.KILN_REPORTS_RETENTION_DAYS)
    for run in ReportRun.objects.filter(finished_at__lt=cutoff).exclude(file_path=""):
        (reports_dir() / run.file_path).unlink(missing_ok=True)
        ReportRun.objects.filter(pk=run.pk).update(file_path="", message="File removed after the retention period.")
        removed += 1
    stale_before = now - timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    lost = ReportRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=stale_before).update(
        status=RunStatus.FAILED, finished_at=now, message="The worker stopped while generating this report.")
    if removed or lost:
        audit_record(action="report.purged", object_type="report_run",
                     new_value={"files_removed": removed, "runs_failed": lost,
                                "retention_days": settings.KILN_REPORTS_RETENTION_DAYS})
    return {"files_removed": removed, "runs_failed": lost}
