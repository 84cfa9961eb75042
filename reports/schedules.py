"""Scheduled reports: when each schedule runs next (in the plant's time zone), running the ones that are due
(beat, every minute), and e-mailing a scheduled run's file over SMTP once it is generated.

A schedule's relative times ("now-24h") resolve against the time it was due, not the time beat got to it, so a
daily 06:00 report always covers the 24 hours before 06:00 even when the worker was late.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from reports.choices import CONTENT_TYPES, ScheduleFrequency
from reports.kinds import ReportContext, kind_get, plant_zone
from reports.models import ReportRun, ReportSchedule
from scada.errors import KilnError

__all__ = ["schedule_next_run", "schedules_run_due", "schedule_recipients", "report_run_email"]

logger = logging.getLogger(__name__)
MAX_LATE_RUNS = 1  # a schedule missed for days runs once when beat is back, not once per missed day


def _matches(schedule: ReportSchedule, day: date) -> bool:
    if schedule.frequency == ScheduleFrequency.WEEKLY:
        return day.weekday() == schedule.weekday
    if schedule.frequency == ScheduleFrequency.MONTHLY:
        return day.day == schedule.day_of_month
    return True


def schedule_next_run(schedule: ReportSchedule, *, after: datetime) -> datetime:
    """The first time after `after` the schedule is due: its time of day in the plant's zone, on a matching day."""
    zone = plant_zone()
    day = after.astimezone(zone).date()
    for offset in range(0, 64):
        candidate_day = day + timedelta(days=offset)
        if not _matches(schedule, candidate_day):
            continue
        # A time skipped by a DST change (02:30 on the spring-forward night) runs at the same UTC offset as
        # before the change: zoneinfo's fold=0 reading, one hour later on the wall clock.
        when = datetime.combine(candidate_day, schedule.time_of_day or time(0), tzinfo=zone).astimezone(UTC)
        if when > after:
            return when
    raise ValueError("no matching day within two months")  # pragma: no cover - day_of_month is 1..28


def schedule_recipients(schedule: ReportSchedule) -> list[str]:
    return [a.strip() for a in schedule.email_to.replace(";", ",").split(",") if a.strip()]


def _run_create(schedule: ReportSchedule, due: datetime) -> ReportRun | None:
    definition = schedule.definition
    kind = kind_get(definition.kind)
    try:
        params = kind.clean(definition, schedule.parameters, now=due)
        kind.estimate_rows(ReportContext(definition=definition, params=params, now=due))
    except KilnError as exc:
        # A schedule that can no longer run (a tag deleted since it was saved) says so in the trail each time.
        audit_record(action="report.schedule_failed", object_type="report_schedule", object_id=schedule.pk,
                     new_value={"schedule": schedule.name, "report": definition.slug, "message": exc.detail})
        return None
    from reports.services import _jsonable

    run = ReportRun.objects.create(definition=definition, schedule=schedule, username="", format=schedule.format,
                                   parameters=_jsonable(params))
    # The run's time is the time it was due: relative parameters and the "generated" line agree with it.
    ReportRun.objects.filter(pk=run.pk).update(created=due)
    audit_record(action="report.requested", object_type="report_run", object_id=run.pk, reason="schedule",
                 new_value={"report": definition.slug, "format": run.format, "parameters": run.parameters,
                            "schedule": schedule.name, "due": due.isoformat()})
    return run


def schedules_run_due(*, now: datetime | None = None) -> list[int]:
    """Queue a run of every enabled schedule that is due; the ids of the runs queued.

    Each schedule is claimed with a conditional UPDATE of its next_run_at, so two beats (or a retried task) never
    run it twice for the same due time.
    """
    from reports.services import report_run_enqueue

    now = now or timezone.now()
    queued = []
    for schedule in ReportSchedule.objects.select_related("definition").filter(
            enabled=True, definition__enabled=True, next_run_at__lte=now):
        due = schedule.next_run_at
        following = schedule_next_run(schedule, after=max(due, now - timedelta(seconds=1)))
        with transaction.atomic():
            claimed = ReportSchedule.objects.filter(pk=schedule.pk, next_run_at=due).update(
                next_run_at=following, last_run_at=now)
            if claimed != 1:
                continue
            run = _run_create(schedule, due)
        if run is not None:
            report_run_enqueue(run)
            queued.append(run.pk)
    return queued


def report_run_email(run: ReportRun, path) -> None:
    """E-mail a scheduled run's file to its schedule's recipients (audited whether it went or not)."""
    recipients = schedule_recipients(run.schedule)
    if not recipients:
        return
    definition = run.definition
    local = run.created.astimezone(plant_zone())
    subject = f"{settings.KILN_PLANT_NAME}: {definition.title} {local:%Y-%m-%d %H:%M}"
    body = (f"{definition.title}, run #{run.pk} of the schedule \"{run.schedule.name}\", generated "
            f"{local:%Y-%m-%d %H:%M} ({plant_zone().key}).\nSHA-256 of the attached file: {run.sha256}\n")
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients)
    too_big = run.size is not None and run.size > settings.KILN_REPORTS_EMAIL_MAX_BYTES
    if too_big:
        message.body += (f"\nThe file ({run.size} bytes) is over the e-mail limit; download it from Kiln: "
                         f"/api/reports/runs/{run.pk}/download\n")
    else:
        message.attach(run.file_name, path.read_bytes(), CONTENT_TYPES[run.format].split(";")[0])
    try:
        message.send()
    except Exception as exc:  # SMTP down or refusing: the report is still kept; the trail says it was not sent
        logger.warning("E-mail of report run %s failed: %s", run.pk, exc)
        ReportRun.objects.filter(pk=run.pk).update(message=f"Generated; e-mail failed: {type(exc).__name__}: "
                                                           f"{str(exc)[:300]}")
        audit_record(action="report.email_failed", object_type="report_run", object_id=run.pk,
                     new_value={"to": recipients, "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
        return
    audit_record(action="report.emailed", object_type="report_run", object_id=run.pk,
                 new_value={"to": recipients, "file": run.file_name, "sha256": run.sha256,
                            "attached": not too_big})
