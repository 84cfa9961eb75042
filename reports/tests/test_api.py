"""The report API: listing by role, generating a CSV at once or as a job, progress, download, cancel, audit."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from accounts.models import AuditRecord
from conftest import client_for
from reports.choices import RunStatus
from reports.models import ReportRun
from reports.services import report_run_execute
from scada.roles import Role

from .conftest import T0

JOURNAL = {"start": "2026-03-02T06:00:00Z", "end": "2026-03-02T07:00:00Z"}
pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


def test_it_lists_the_reports_an_operator_may_run_with_their_parameters(operator_client):
    response = operator_client.get("/api/reports")
    assert response.status_code == 200
    ids = [r["id"] for r in response.json()["results"]]
    assert {"tag-history", "alarm-journal"} <= set(ids)
    assert "audit-trail" not in ids
    journal = next(r for r in response.json()["results"] if r["id"] == "alarm-journal")
    start = next(p for p in journal["parameters"] if p["name"] == "start")
    assert start == {"name": "start", "type": "datetime", "label": "Start", "default": "now-24h", "required": True,
                     "help": ""}
    assert journal["formats"] == ["pdf", "csv"]


def test_it_lists_the_audit_trail_to_an_admin_only(admin_client):
    ids = [r["id"] for r in admin_client.get("/api/reports").json()["results"]]
    assert "audit-trail" in ids


def test_it_refuses_the_list_without_a_token(api_client):
    assert api_client.get("/api/reports").status_code == 401


def test_it_answers_a_small_csv_at_once_with_a_file_name(operator_client, journal):
    response = operator_client.post("/api/reports/alarm-journal/generate",
                                    {"format": "csv", "parameters": JOURNAL}, format="json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="alarm-journal-20' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0][:3] == ["ts", "event", "state_before"]
    assert len(rows) == 1 + len(journal)
    assert rows[1][0] == "2026-03-02T06:00:00Z"  # oldest first, ISO 8601 UTC


def test_it_guards_csv_cells_against_formulas(operator_client, journal):
    response = operator_client.post("/api/reports/alarm-journal/generate",
                                    {"format": "csv", "parameters": JOURNAL}, format="json")
    messages = [row[13] for row in _csv(response)[1:]]
    assert "'=HYPERLINK(\"http://evil\")" in messages


def test_it_filters_the_journal_as_the_journal_api_does(operator_client, journal):
    response = operator_client.post("/api/reports/alarm-journal/generate",
                                    {"format": "csv", "parameters": {**JOURNAL, "priority": ["high"]}},
                                    format="json")
    assert [row[9] for row in _csv(response)[1:]] == ["high", "high"]


def test_it_audits_the_request_the_generation_with_the_file_hash_and_the_download(operator_client, journal):
    response = operator_client.post("/api/reports/alarm-journal/generate",
                                    {"format": "csv", "parameters": JOURNAL}, format="json")
    body = b"".join(response.streaming_content)
    run = ReportRun.objects.get()
    actions = list(AuditRecord.objects.filter(object_type="report_run", object_id=str(run.pk))
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["report.requested", "report.generated", "report.downloaded"]
    generated = AuditRecord.objects.get(action="report.generated")
    assert generated.username == "olivia"
    assert generated.new_value["sha256"] == hashlib.sha256(body).hexdigest() == run.sha256
    assert generated.new_value["parameters"]["start"] == "2026-03-02T06:00:00Z"


def test_it_names_the_bad_parameter(operator_client):
    response = operator_client.post("/api/reports/alarm-journal/generate",
                                    {"format": "csv", "parameters": {"start": "yesterday-ish"}}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("parameters.start:")
    assert not ReportRun.objects.exists()


def test_it_refuses_an_end_before_the_start(operator_client):
    response = operator_client.post("/api/reports/alarm-journal/generate", {"format": "csv", "parameters": {
        "start": "2026-03-02T07:00:00Z", "end": "2026-03-02T06:00:00Z"}}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "parameters.end: must be after start"


def test_it_refuses_an_unknown_parameter(operator_client):
    response = operator_client.post("/api/reports/alarm-journal/generate",
                                    {"format": "csv", "parameters": {"colour": "red"}}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("parameters.colour: unknown parameter")


def test_it_refuses_an_unknown_format(operator_client):
    response = operator_client.post("/api/reports/alarm-journal/generate", {"format": "xlsx"}, format="json")
    assert response.status_code == 400
    assert "format" in response.json()["detail"]


def test_it_answers_404_for_an_unknown_report(operator_client):
    response = operator_client.post("/api/reports/nope/generate", {"format": "csv"}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == "Report nope not found"


def test_it_hides_the_audit_trail_from_an_operator(operator_client):
    response = operator_client.post("/api/reports/audit-trail/generate", {"format": "csv"}, format="json")
    assert response.status_code == 404
    assert not ReportRun.objects.exists()


def test_it_gives_an_admin_the_audit_trail_with_the_audit_api_columns(admin_client, journal):
    from accounts.audit import audit_record

    audit_record(action="tag.write", object_type="tag", object_id="Reactor_Temp", old_value=1, new_value=2)
    response = admin_client.post("/api/reports/audit-trail/generate",
                                 {"format": "csv", "parameters": {"start": "now-1h"}}, format="json")
    assert response.status_code == 200
    rows = _csv(response)
    api = admin_client.get("/api/audit").json()["results"][0]
    assert rows[0] == list(api)
    assert [r[4] for r in rows[1:]] == ["tag.write"]  # the range ends when it was asked for


def test_it_queues_a_large_report_and_reports_its_progress(operator_client, journal, settings):
    settings.KILN_REPORTS_INLINE_MAX_ROWS = 2
    response = operator_client.post("/api/reports/alarm-journal/generate",
                                    {"format": "csv", "parameters": JOURNAL}, format="json")
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "queued" and job["progress"] == 0 and job["download_url"] is None
    assert response["Location"] == job["url"] == f"/api/reports/runs/{job['id']}"

    report_run_execute(run_id=job["id"])  # what the reports worker runs

    done = operator_client.get(job["url"]).json()
    assert done["status"] == "done" and done["progress"] == 100 and done["rows"] == len(journal)
    download = operator_client.get(done["download_url"])
    assert download.status_code == 200
    assert len(_csv(download)) == 1 + len(journal)


def test_it_runs_a_queued_report_once_however_often_the_task_is_delivered(operator_client, journal, settings):
    settings.KILN_REPORTS_INLINE_MAX_ROWS = 0
    job = operator_client.post("/api/reports/alarm-journal/generate",
                               {"format": "csv", "parameters": JOURNAL}, format="json").json()
    assert report_run_execute(run_id=job["id"]) is not None
    assert report_run_execute(run_id=job["id"]) is None
    assert AuditRecord.objects.filter(action="report.generated").count() == 1


def test_it_cancels_a_queued_report(operator_client, journal, settings):
    settings.KILN_REPORTS_INLINE_MAX_ROWS = 0
    job = operator_client.post("/api/reports/alarm-journal/generate",
                               {"format": "csv", "parameters": JOURNAL}, format="json").json()
    response = operator_client.post(f"{job['url']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert report_run_execute(run_id=job["id"]) is None  # the worker then leaves it alone
    assert ReportRun.objects.get().status == RunStatus.CANCELLED
    assert AuditRecord.objects.filter(action="report.cancel", object_id=str(job["id"])).exists()


def test_it_refuses_to_cancel_a_finished_report(operator_client, journal):
    operator_client.post("/api/reports/alarm-journal/generate", {"format": "csv", "parameters": JOURNAL},
                         format="json")
    run = ReportRun.objects.get()
    response = operator_client.post(f"/api/reports/runs/{run.pk}/cancel")
    assert response.status_code == 409


def test_it_refuses_the_download_before_the_file_is_ready(operator_client, journal, settings):
    settings.KILN_REPORTS_INLINE_MAX_ROWS = 0
    job = operator_client.post("/api/reports/alarm-journal/generate",
                               {"format": "csv", "parameters": JOURNAL}, format="json").json()
    response = operator_client.get(f"{job['url']}/download")
    assert response.status_code == 409
    assert response.json()["detail"] == f"Report run {job['id']} is queued; its file is not ready"


def test_it_keeps_one_users_runs_from_another_operator(operator_client, journal, make_user):
    operator_client.post("/api/reports/alarm-journal/generate", {"format": "csv", "parameters": JOURNAL},
                         format="json")
    run = ReportRun.objects.get()
    other = client_for(make_user("otto", Role.OPERATOR))
    assert other.get(f"/api/reports/runs/{run.pk}").status_code == 404
    assert other.get(f"/api/reports/runs/{run.pk}/download").status_code == 404
    assert other.get("/api/reports/runs").json()["count"] == 0


def test_it_lets_an_admin_see_every_run(operator_client, admin_client, journal):
    operator_client.post("/api/reports/alarm-journal/generate", {"format": "csv", "parameters": JOURNAL},
                         format="json")
    assert admin_client.get("/api/reports/runs").json()["count"] == 1


def test_it_lists_my_runs_newest_first(operator_client, journal):
    for _ in range(2):
        operator_client.post("/api/reports/alarm-journal/generate", {"format": "csv", "parameters": JOURNAL},
                             format="json")
    runs = operator_client.get("/api/reports/runs").json()
    assert runs["count"] == 2
    assert runs["results"][0]["id"] > runs["results"][1]["id"]
    assert runs["results"][0]["status"] == "done"


def test_it_exports_tag_history_as_the_history_api_does(operator_client, history):
    params = {"tags": ["Reactor_Temp", "Reactor_Press"], "start": T0.isoformat(), "end": "2026-03-02T06:10:00Z",
              "mode": "average", "interval": 300}
    response = operator_client.post("/api/reports/tag-history/generate", {"format": "csv", "parameters": params},
                                    format="json")
    assert response.status_code == 200
    rows = _csv(response)
    assert rows[0] == ["tag", "ts", "v"]
    # Time order, then the order the tags were named.
    assert [r[:2] for r in rows[1:]] == [["Reactor_Temp", "2026-03-02T06:00:00Z"],
                                         ["Reactor_Press", "2026-03-02T06:00:00Z"],
                                         ["Reactor_Temp", "2026-03-02T06:05:00Z"],
                                         ["Reactor_Press", "2026-03-02T06:05:00Z"]]
    api = operator_client.get("/api/history", {"tags": "Reactor_Temp", "start": "2026-03-02T06:00:00Z",
                                               "end": "2026-03-02T06:10:00Z", "mode": "average",
                                               "interval": 300}).json()
    assert [float(r[2]) for r in rows[1:] if r[0] == "Reactor_Temp"] == [p["v"] for p in api["series"][0]["data"]]


def test_it_names_a_tag_that_does_not_exist(operator_client, plant):
    response = operator_client.post("/api/reports/tag-history/generate",
                                    {"format": "csv", "parameters": {"tags": ["Reactor_Temp", "Nope"]}},
                                    format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "parameters.tags: tag not found: Nope"


def test_it_uses_the_definitions_tags_when_the_caller_names_none(operator_client, history):
    from reports.models import ReportDefinition

    ReportDefinition.objects.get(slug="tag-history").tags.add(history["press"])
    response = operator_client.post("/api/reports/tag-history/generate", {"format": "csv", "parameters": {
        "start": T0.isoformat(), "end": "2026-03-02T06:02:00Z"}}, format="json")
    assert {r[0] for r in _csv(response)[1:]} == {"Reactor_Press"}


def test_it_audits_a_definition_changed_in_admin(admin_user, client):
    from reports.models import ReportDefinition

    client.force_login(admin_user)
    definition = ReportDefinition.objects.get(slug="alarm-journal")
    response = client.post(f"/admin/reports/reportdefinition/{definition.pk}/change/", {
        "slug": "alarm-journal", "title": "Alarm journal (monthly review)", "kind": "alarm-journal",
        "description": "", "defaults": '{"start": "now-30d"}', "min_role": 10, "page_size": "A4",
        "enabled": "on"})
    assert response.status_code == 302, response.content[:2000]
    definition.refresh_from_db()
    assert definition.title == "Alarm journal (monthly review)" and definition.defaults == {"start": "now-30d"}
    record = AuditRecord.objects.get(action="report_definition.update")
    assert record.object_id == "alarm-journal"


def test_it_refuses_a_definition_default_the_kind_cannot_take(admin_user, client):
    from reports.models import ReportDefinition

    client.force_login(admin_user)
    definition = ReportDefinition.objects.get(slug="alarm-journal")
    response = client.post(f"/admin/reports/reportdefinition/{definition.pk}/change/", {
        "slug": "alarm-journal", "title": "x", "kind": "alarm-journal", "description": "",
        "defaults": '{"start": "last tuesday"}', "min_role": 10, "page_size": "A4", "enabled": "on"})
    assert response.status_code == 200
    assert b"start: not an ISO 8601 date-time nor a relative time" in response.content
    assert not AuditRecord.objects.filter(action__startswith="report_definition").exists()


def test_the_reports_page_needs_a_login_and_loads_nothing_from_outside(client, operator):
    assert client.get("/reports/").status_code == 302
    client.force_login(operator)
    response = client.get("/reports/")
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert b"reports/js/reports.js" in response.content
