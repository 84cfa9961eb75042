"""The shift, alarm-KPI and batch-record reports, and the pieces every kind shares (relative times, windows)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pypdfium2
import pytest
import time_machine

from accounts.audit import audit_record
from batches.tests.conftest import signature
from reports.kinds.base import parse_when
from reports.kinds.tag_history import history_windows
from reports.models import ReportDefinition
from reports.services import report_request, report_run_execute, reports_dir

from .conftest import T0, make_event

pytestmark = pytest.mark.django_db


def _run(user, slug, params, fmt="csv"):
    run, _small = report_request(definition=ReportDefinition.objects.get(slug=slug), user=user, format=fmt,
                                 parameters=params)
    run = report_run_execute(run_id=run.pk)
    assert run.status == "done", run.message
    path = reports_dir() / run.file_path
    if fmt == "csv":
        return list(csv.reader(io.StringIO(path.read_text())))
    pdf = pypdfium2.PdfDocument(str(path))
    return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))


def test_relative_times_resolve_against_the_request_time_and_the_plant_day(settings):
    now = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)
    assert parse_when("now-8h", now=now) == datetime(2026, 3, 1, 21, 30, tzinfo=UTC)
    assert parse_when("now+30m", now=now) == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    settings.KILN_PLANT_TIME_ZONE = "America/Chicago"  # 23:30 on March 1st there
    assert parse_when("today", now=now) == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert parse_when("2026-03-02T06:00:00+01:00", now=now) == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    for bad in ("yesterday", "now-8", "now*2h", "0001-01-01T00:00:00Z"):
        with pytest.raises(ValueError):
            parse_when(bad, now=now)


def test_history_windows_cover_the_range_and_never_split_a_bucket():
    start, end = datetime(2026, 3, 2, 6, 2, 30, tzinfo=UTC), datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    windows = list(history_windows(start, end, 60, 50, 20_000))
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert all(b.timestamp() % 60 == 0 for _, b in windows[:-1])
    assert all((b - a).total_seconds() <= 400 * 60 for a, b in windows)  # 20,000 points / 50 tags


def test_the_shift_report_gives_each_tags_min_max_and_time_weighted_average(operator, history):
    definition = ReportDefinition.objects.get(slug="shift")
    definition.tags.add(history["temp"])
    rows = _run(operator, "shift", {"start": T0.isoformat(), "hours": 1, "interval": 60})
    figures = {r[6]: float(r[3]) for r in rows[1:] if r[0] == "tag"}
    assert figures == {"min": 20.0, "max": 79.0, "average": pytest.approx(49.5)}


def test_the_shift_report_lists_alarms_raised_and_acknowledged_and_operator_actions(operator, history):
    make_event(T0 + timedelta(minutes=5))
    make_event(T0 + timedelta(minutes=6), event="acknowledged", username="olivia")
    make_event(T0 + timedelta(minutes=7), event="cleared")
    make_event(T0 + timedelta(hours=2))  # after the shift
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        audit_record(action="tag.write", user=operator, object_type="tag", object_id="Reactor_Temp",
                     new_value={"value": 42})
        audit_record(action="auth.login", user=operator)  # not an action on the plant
    rows = _run(operator, "shift", {"start": T0.isoformat(), "hours": 1, "tags": ["Reactor_Temp"]})
    assert [(r[0], r[6]) for r in rows[1:] if r[0] == "alarm"] == [("alarm", "activated high"),
                                                                   ("alarm", "acknowledged high")]
    assert [(r[2], r[3], r[5], r[6]) for r in rows[1:] if r[0] == "action"] == [
        ("Reactor_Temp", "42", "olivia", "tag.write")]


def test_the_shift_report_shows_batches_started_in_it(operator, complete_batch, reactor_tags):
    start = complete_batch.started_at - timedelta(minutes=1)
    rows = _run(operator, "shift", {"start": start.isoformat(), "hours": 8, "tags": ["Reactor_Temp"]})
    assert [(r[2], r[3]) for r in rows[1:] if r[0] == "batch"] == [("L-100", "complete")]


def test_the_shift_pdf_has_a_trend_per_tag_and_every_section(operator, history):
    text = _run(operator, "shift", {"start": T0.isoformat(), "hours": 1, "tags": ["Reactor_Temp", "Reactor_Press"]},
                fmt="pdf")
    for heading in ("Tags over the shift", "Trends", "Alarms", "Batches", "Operator actions"):
        assert heading in text
    assert "2026-03-02 06:00 to 2026-03-02 07:00 (UTC, 1 h)" in text
    assert "No alarm raised or acknowledged." in text


def test_the_shift_pdf_shows_figures_with_the_tags_display_decimals(operator, history):
    history["temp"].decimals = 2
    history["temp"].save(update_fields=["decimals"])
    text = _run(operator, "shift", {"start": T0.isoformat(), "hours": 1, "tags": ["Reactor_Temp"]}, fmt="pdf")
    assert "20.00" in text and "79.00" in text and "49.50" in text


def test_the_alarm_kpi_report_has_the_kpi_apis_figures(operator, operator_client, journal):
    params = {"start": "2026-03-02T06:00:00Z", "end": "2026-03-02T07:00:00Z"}
    rows = _run(operator, "alarm-kpis", params)
    api = operator_client.get("/api/alarms/kpis", params).json()
    summary = {r[2]: r[9] for r in rows[1:] if r[0] == "summary"}
    assert int(summary["annunciated"]) == api["annunciated"] == len(journal)
    assert float(summary["average_per_10min"]) == api["alarms_per_10min"]["average"]
    assert [r[2] for r in rows[1:] if r[0] == "most_frequent"] == [a["key"] for a in api["most_frequent"]]


def test_the_alarm_kpi_report_refuses_more_than_31_days(operator):
    from scada.errors import BadRequest

    with pytest.raises(BadRequest, match="parameters.start: the range is at most 31 days"):
        report_request(definition=ReportDefinition.objects.get(slug="alarm-kpis"), user=operator, format="csv",
                       parameters={"start": "now-40d"})


def test_the_alarm_kpi_pdf_states_the_isa_targets(operator, journal):
    text = _run(operator, "alarm-kpis", {"start": "2026-03-02T06:00:00Z", "end": "2026-03-02T07:00:00Z"}, fmt="pdf")
    assert "Ten most frequent alarms" in text and "Time in flood" in text and "ISA-18.2 targets" in text


def test_the_batch_record_shows_its_signatures_as_on_screen(operator, supervisor, complete_batch):
    from batches.services import batch_close

    batch_close(batch=complete_batch, user=supervisor, signature=signature())
    text = _run(operator, "batch-record", {"batch": complete_batch.pk}, fmt="pdf")
    assert "Batch L-100" in text and "reactor-heat-cycle v1" in text
    assert "Reviewed and released" in text and "End of batch review" in text
    assert "Electronic signatures (21 CFR Part 11)" in text
    rows = _run(operator, "batch-record", {"batch": complete_batch.pk})
    signatures = [r for r in rows[1:] if r[0] == "signature"]
    assert ["Reviewed and released", "valid", "sam"] in [[r[2], r[3], r[5]] for r in signatures]


def test_the_batch_record_names_a_batch_that_does_not_exist(operator):
    from scada.errors import BadRequest

    with pytest.raises(BadRequest, match="parameters.batch: Batch 999 not found"):
        report_request(definition=ReportDefinition.objects.get(slug="batch-record"), user=operator, format="pdf",
                       parameters={"batch": 999})


def test_the_demo_gives_the_shift_report_the_plants_analog_tags(db):
    from reports.demo import load_reports
    from tags.demo import load_plant

    assert load_reports() == "skipped (the demo plant is missing)"
    load_plant()
    assert load_reports() == "tags set on shift, tag-history"
    names = set(ReportDefinition.objects.get(slug="shift").tags.values_list("name", flat=True))
    assert {"Reactor_Temp", "pump-01.Speed"} <= names
    assert load_reports() == "existing"
