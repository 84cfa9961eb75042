"""Schedules: when they fall due (plant time zone, DST), running them once per due time, and e-mailing the file
through a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
from datetime import UTC, datetime, time, timedelta

import pytest
from aiosmtpd.controller import Controller

from accounts.models import AuditRecord
from reports.models import ReportDefinition, ReportRun, ReportSchedule
from reports.schedules import schedule_next_run, schedules_run_due
from reports.services import report_run_execute
from tests.servers import free_port

from .conftest import T0

pytestmark = pytest.mark.django_db


class Sink:
    """An SMTP server's handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.DEFAULT_FROM_EMAIL = "kiln@plant.example"
    yield sink
    controller.stop()


def _schedule(slug="alarm-journal", **fields):
    defaults = {"name": "Morning journal", "format": "csv", "frequency": "daily", "time_of_day": time(6, 0),
                "parameters": {"start": "now-24h", "end": "now"}}
    schedule = ReportSchedule(definition=ReportDefinition.objects.get(slug=slug), **{**defaults, **fields})
    schedule.next_run_at = schedule_next_run(schedule, after=T0 - timedelta(hours=1))
    schedule.save()
    return schedule


def test_a_daily_schedule_falls_due_at_its_time_in_the_plant_zone(settings):
    settings.KILN_PLANT_TIME_ZONE = "Europe/Paris"
    s = ReportSchedule(frequency="daily", time_of_day=time(6, 0))
    assert schedule_next_run(s, after=datetime(2026, 3, 2, 4, 0, tzinfo=UTC)) == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    assert schedule_next_run(s, after=datetime(2026, 3, 2, 5, 0, tzinfo=UTC)) == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    # Across the spring DST change (29 March 2026 in Europe), 06:00 local moves from 05:00 to 04:00 UTC.
    assert schedule_next_run(s, after=datetime(2026, 3, 29, 0, 0, tzinfo=UTC)) == datetime(2026, 3, 29, 4, 0,
                                                                                           tzinfo=UTC)


def test_weekly_and_monthly_schedules_fall_on_their_day(settings):
    weekly = ReportSchedule(frequency="weekly", weekday=0, time_of_day=time(7, 30))  # Mondays
    assert schedule_next_run(weekly, after=datetime(2026, 3, 4, tzinfo=UTC)) == datetime(2026, 3, 9, 7, 30, tzinfo=UTC)
    monthly = ReportSchedule(frequency="monthly", day_of_month=1, time_of_day=time(0, 15))
    assert schedule_next_run(monthly, after=datetime(2026, 3, 4, tzinfo=UTC)) == datetime(2026, 4, 1, 0, 15,
                                                                                          tzinfo=UTC)


def test_a_due_schedule_runs_once_and_covers_the_day_before_its_due_time(journal):
    schedule = _schedule()
    assert schedule.next_run_at == T0
    first = schedules_run_due(now=T0 + timedelta(minutes=3))
    assert schedules_run_due(now=T0 + timedelta(minutes=4)) == []  # claimed: not run again
    run = ReportRun.objects.get(pk=first[0])
    assert run.schedule == schedule and run.user_id is None
    assert run.parameters["start"] == "2026-03-01T06:00:00Z" and run.parameters["end"] == "2026-03-02T06:00:00Z"
    schedule.refresh_from_db()
    assert schedule.next_run_at == T0 + timedelta(days=1) and schedule.last_run_at == T0 + timedelta(minutes=3)
    assert AuditRecord.objects.get(action="report.requested").reason == "schedule"


def test_a_disabled_schedule_does_not_run(journal):
    _schedule(enabled=False)
    assert schedules_run_due(now=T0 + timedelta(minutes=3)) == []


def test_a_scheduled_report_is_e_mailed_with_its_file(journal, smtp):
    _schedule(email_to="qa@plant.example, shift@plant.example", parameters={"start": "now", "end": "now+1h"})
    [run_id] = schedules_run_due(now=T0)
    run = report_run_execute(run_id=run_id)
    assert run.status == "done"
    [(to, message)] = smtp.messages
    assert to == ["qa@plant.example", "shift@plant.example"]
    assert message["Subject"] == "Kiln demo plant: Alarm journal 2026-03-02 06:00"
    [attachment] = [p for p in message.walk() if p.get_filename()]
    assert attachment.get_filename() == run.file_name and attachment.get_content_type() == "text/csv"
    assert attachment.get_payload(decode=True).count(b"\n") == 1 + len(journal)
    record = AuditRecord.objects.get(action="report.emailed")
    assert record.new_value["sha256"] == run.sha256 and record.new_value["to"] == to


def test_an_smtp_outage_keeps_the_report_and_says_the_mail_was_not_sent(journal, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    _schedule(email_to="qa@plant.example")
    [run_id] = schedules_run_due(now=T0)
    run = report_run_execute(run_id=run_id)
    assert run.status == "done" and run.file_path
    assert run.message.startswith("Generated; e-mail failed: ConnectionRefusedError")
    assert AuditRecord.objects.filter(action="report.email_failed", object_id=str(run_id)).exists()


def test_a_schedule_whose_parameters_no_longer_hold_is_audited_not_run(plant):
    schedule = _schedule(slug="tag-history", parameters={"tags": ["Reactor_Temp"]})
    plant["temp"].delete()
    assert schedules_run_due(now=T0) == []
    record = AuditRecord.objects.get(action="report.schedule_failed")
    assert record.new_value["message"] == "parameters.tags: tag not found: Reactor_Temp"
    schedule.refresh_from_db()
    assert schedule.next_run_at == T0 + timedelta(days=1)


def test_schedules_are_created_in_admin_audited_and_checked(admin_user, client, journal):
    client.force_login(admin_user)
    definition = ReportDefinition.objects.get(slug="alarm-journal")
    form = {"name": "Weekly journal", "definition": definition.pk, "format": "pdf", "parameters": '{"start": "now-7d"}',
            "frequency": "weekly", "time_of_day": "06:00", "weekday": "", "day_of_month": "",
            "email_to": "qa@plant.example", "enabled": "on"}
    response = client.post("/admin/reports/reportschedule/add/", form)
    assert response.status_code == 200 and b"needs a weekday" in response.content
    response = client.post("/admin/reports/reportschedule/add/", {**form, "parameters": '{"start": "last week"}',
                                                                   "weekday": "0"})
    assert response.status_code == 200 and b"parameters.start" in response.content
    response = client.post("/admin/reports/reportschedule/add/", {**form, "weekday": "0"})
    assert response.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert schedule.next_run_at is not None and schedule.next_run_at.weekday() == 0
    assert AuditRecord.objects.get(action="report_schedule.create").object_id == "Weekly journal"
