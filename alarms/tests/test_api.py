"""The alarm API: every route per role, shapes, filters, errors, CSV export, KPIs, seed 004 device alarms."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditRecord
from alarms.choices import AlarmEventType, AlarmState
from alarms.models import Alarm, AlarmDefinition, AlarmEvent
from alarms.services import alarm_acknowledge
from alarms.tests.conftest import alarm_of
from scada.api.testing import check_role_boundary, role_cases
from scada.roles import Role

pytestmark = pytest.mark.django_db

DEVICE_ROUTES = {"alarms-api:device-alarm-list", "alarms-api:device-alarm-acknowledge"}
CASES = [c for c in role_cases(["alarms-api"]) if c.view_name not in DEVICE_ROUTES]


@pytest.fixture
def active(hi_alarm, temp, record):
    record(temp, 90.0)
    hi_alarm.refresh_from_db()
    return hi_alarm


BODIES = {
    "alarms-api:alarm-ack": {"comment": "seen"},
    "alarms-api:alarm-shelve": {"duration": 600, "reason": "nuisance"},
    "alarms-api:alarm-unshelve": {"reason": "done"},
    "alarms-api:alarm-out-of-service": {"reason": "calibration"},
    "alarms-api:alarm-return-to-service": {},
}


def test_it_has_a_case_for_every_alarm_route():
    names = {c.view_name for c in CASES}
    assert names == {"alarms-api:alarm-list", "alarms-api:alarm-detail", "alarms-api:alarm-history",
                     "alarms-api:alarm-kpis", *BODIES}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_it_enforces_the_minimum_role(case, client_as, active, supervisor, engineer):
    from alarms.services import alarm_remove_from_service, alarm_shelve

    if case.view_name == "alarms-api:alarm-unshelve":
        alarm_shelve(alarm=active, user=supervisor, duration_seconds=600, reason="x")
    if case.view_name == "alarms-api:alarm-return-to-service":
        alarm_remove_from_service(alarm=active, user=engineer, reason="x")
    kwargs = {"pk": active.pk} if "pk" in case.kwargs else {}
    check_role_boundary(case, client_as=client_as, kwargs=kwargs, data=BODIES.get(case.view_name))


def test_it_lists_annunciated_alarms_by_default(active, make_definition, make_tag, operator_client):
    quiet = make_definition(make_tag("Jacket_Temp"), "HI", 50.0)
    r = operator_client.get("/api/alarms")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["id"] == active.pk and item["key"] == "reactor_temp_hi" and item["tag"] == "Reactor_Temp"
    assert item["state"] == "active_unacked" and item["acknowledged"] is False and item["active"] is True
    assert item["activated_at"].endswith("Z") and item["priority"] == "medium" and item["machine"] == "reactor-1"
    r = operator_client.get("/api/alarms", {"state": "normal"})
    assert [a["id"] for a in r.json()["results"]] == [alarm_of(quiet).pk]


def test_it_filters_the_list(active, operator_client, operator):
    assert operator_client.get("/api/alarms", {"priority": "critical"}).json()["count"] == 0
    assert operator_client.get("/api/alarms", {"priority": "medium", "machine": "reactor-1"}).json()["count"] == 1
    assert operator_client.get("/api/alarms", {"category": "process", "acked": "false"}).json()["count"] == 1
    alarm_acknowledge(alarm=active, user=operator)
    assert operator_client.get("/api/alarms", {"acked": "false"}).json()["count"] == 0
    assert operator_client.get("/api/alarms", {"state": "active_acked"}).json()["count"] == 1


def test_it_answers_400_for_a_bad_filter(operator_client):
    r = operator_client.get("/api/alarms", {"state": "exploded"})
    assert r.status_code == 400 and "state" in r.json()["detail"]


def test_it_acknowledges_through_the_api(active, operator_client):
    r = operator_client.post(f"/api/alarms/{active.pk}/ack", {"reason_code": "", "comment": "on it"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "active_acked" and r.json()["acked_by"] == "olivia"
    r = operator_client.post(f"/api/alarms/{active.pk}/ack", {}, format="json")
    assert r.status_code == 409 and r.json()["detail"].startswith("Nothing to acknowledge")


def test_it_answers_400_for_a_missing_or_unknown_required_reason(active, operator_client):
    d = active.definition
    d.ack_requires_reason, d.reason_codes = True, ["checked"]
    d.save()
    r = operator_client.post(f"/api/alarms/{active.pk}/ack", {}, format="json")
    assert r.status_code == 400 and "reason code is required" in r.json()["detail"]
    r = operator_client.post(f"/api/alarms/{active.pk}/ack", {"reason_code": "nope"}, format="json")
    assert r.status_code == 400 and "Unknown reason code" in r.json()["detail"]
    r = operator_client.post(f"/api/alarms/{active.pk}/ack", {"bogus": 1}, format="json")
    assert r.status_code == 400
    active.refresh_from_db()
    assert not active.acked and not AuditRecord.objects.filter(action="alarm.acknowledge").exists()


def test_it_answers_404_for_an_unknown_alarm(operator_client, supervisor_client):
    r = operator_client.post("/api/alarms/999999/ack", {}, format="json")
    assert r.status_code == 404 and r.json() == {"detail": "Alarm 999999 not found"}
    r = operator_client.get("/api/alarms/999999")
    assert r.status_code == 404 and r.json() == {"detail": "Alarm 999999 not found"}
    assert supervisor_client.post("/api/alarms/999999/shelve", {"duration": 60, "reason": "x"},
                                  format="json").status_code == 404


def test_it_shelves_with_the_seeds_duration_only_body(active, supervisor_client):
    r = supervisor_client.post(f"/api/alarms/{active.pk}/shelve", {"duration": 600}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "shelved" and r.json()["shelve_requires_reason"] is False


def test_it_answers_400_for_a_shelve_without_a_reason_where_the_definition_asks_for_one(active, supervisor_client):
    AlarmDefinition.objects.filter(pk=active.definition_id).update(shelve_requires_reason=True)
    r = supervisor_client.post(f"/api/alarms/{active.pk}/shelve", {"duration": 600}, format="json")
    assert r.status_code == 400 and r.json()["detail"] == "A reason is required to shelve this alarm."
    active.refresh_from_db()
    assert active.shelved_until is None and AlarmEvent.objects.filter(event="shelved").count() == 0


def test_it_validates_a_shelve(active, supervisor_client):
    url = f"/api/alarms/{active.pk}/shelve"
    r = supervisor_client.post(url, {"reason": "x"}, format="json")
    assert r.status_code == 400 and "duration is required" in r.json()["detail"]
    r = supervisor_client.post(url, {"duration": 10**6, "reason": "x"}, format="json")
    assert r.status_code == 400 and "at most 28800 seconds" in r.json()["detail"]
    r = supervisor_client.post(url, {"duration": 0, "reason": "x"}, format="json")
    assert r.status_code == 400
    active.refresh_from_db()
    assert active.shelved_until is None and AlarmEvent.objects.filter(event="shelved").count() == 0
    r = supervisor_client.post(url, {"duration": 600, "reason": "nuisance while tuning"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "shelved" and r.json()["shelved_until"].endswith("Z")
    assert supervisor_client.get("/api/alarms").json()["count"] == 0  # shelved: not annunciated
    r = supervisor_client.post(f"/api/alarms/{active.pk}/unshelve", {}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "active_unacked"
    assert supervisor_client.post(f"/api/alarms/{active.pk}/unshelve", {}, format="json").status_code == 409


def test_it_shows_one_alarm_whatever_its_state(hi_alarm, operator_client):
    r = operator_client.get(f"/api/alarms/{hi_alarm.pk}")
    assert r.status_code == 200 and r.json()["state"] == "normal"


def test_it_pages_and_filters_the_journal(active, temp, record, operator, operator_client):
    alarm_acknowledge(alarm=active, user=operator, comment="seen")
    record(temp, 10.0)
    r = operator_client.get("/api/alarms/history", {"limit": 2})
    body = r.json()
    assert r.status_code == 200 and body["count"] == 3 and len(body["results"]) == 2
    assert [e["event"] for e in body["results"]] == ["cleared", "acknowledged"]  # newest first
    r = operator_client.get("/api/alarms/history", {"user": "olivia"})
    assert [e["event"] for e in r.json()["results"]] == ["acknowledged"]
    assert r.json()["results"][0]["reason"] == "seen"
    r = operator_client.get("/api/alarms/history", {"tag": "Reactor_Temp", "state": "active_unacked"})
    assert [e["event"] for e in r.json()["results"]] == ["activated"]
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert operator_client.get("/api/alarms/history", {"start": future}).json()["count"] == 0
    assert operator_client.get("/api/alarms/history", {"priority": "high"}).json()["count"] == 0
    assert operator_client.get("/api/alarms/history", {"start": "yesterday"}).status_code == 400
    assert operator_client.get("/api/alarms/history", {"limit": 0}).status_code == 400


def test_it_filters_the_journal_by_one_utc_day(active, operator_client):
    # Seed 000: "Alarm journal — filters: date/user". ?date= used to be ignored, answering the whole journal.
    AlarmEvent.objects.update(ts=datetime(2026, 4, 1, 23, 59, 59, tzinfo=UTC))
    event = AlarmEvent.objects.get()
    r = operator_client.get("/api/alarms/history", {"date": "2026-04-01"})
    assert r.status_code == 200 and [e["id"] for e in r.json()["results"]] == [event.pk]
    assert operator_client.get("/api/alarms/history", {"date": "2026-04-02"}).json()["count"] == 0
    assert operator_client.get("/api/alarms/history", {"date": "2026-03-31"}).json()["count"] == 0
    r = operator_client.get("/api/alarms/history", {"date": "April 1st"})
    assert r.status_code == 400 and r.json()["detail"] == "date: Enter a valid date."


def test_it_exports_the_journal_as_csv(active, operator_client, operator):
    alarm_acknowledge(alarm=active, user=operator, comment="=HYPERLINK(\"http://evil\")")
    r = operator_client.get("/api/alarms/history", {"format": "csv"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert [row["event"] for row in rows] == ["acknowledged", "activated"]
    assert rows[0]["reason"].startswith("'=")  # no formula runs when the file is opened in a spreadsheet
    assert rows[1]["value"] == "90.0" and rows[1]["tag"] == "Reactor_Temp"
    r = operator_client.get("/api/alarms/history", {"format": "csv", "start": "bad"})
    assert r.status_code == 400


@pytest.mark.parametrize("query", [{"offset": "100000000000000000000"}, {"offset": "-1"}, {"limit": "0"}])
def test_it_refuses_a_bad_page_in_the_csv_export_as_in_json(active, operator_client, query):
    json_answer = operator_client.get("/api/alarms/history", query)
    csv_answer = operator_client.get("/api/alarms/history", {**query, "format": "csv"})
    assert json_answer.status_code == csv_answer.status_code == 400
    assert json_answer.json()["detail"] in csv_answer.content.decode()


def test_it_guards_a_journal_reason_with_a_carriage_return_in_the_csv(active, operator_client, operator):
    alarm_acknowledge(alarm=active, user=operator, comment="ok\r=HYPERLINK(\"http://evil\")")
    r = operator_client.get("/api/alarms/history", {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode(), newline="")))
    assert rows[0]["reason"] == "ok\n'=HYPERLINK(\"http://evil\")"


def test_it_guards_the_csv_error_body():
    from alarms.api.views import AlarmCSVRenderer

    body = AlarmCSVRenderer().render({"detail": "\r@SUM(A1)"}).decode()
    assert list(csv.reader(io.StringIO(body, newline=""))) == [["detail"], ["\n'@SUM(A1)"]]


def test_it_computes_kpis(temp, hi_alarm, make_definition, make_tag, supervisor, operator_client):
    now = datetime.now(UTC).replace(microsecond=0)
    base = datetime.fromtimestamp((int(now.timestamp()) - 7200) // 600 * 600, tz=UTC)  # a 10-minute slot

    def activation(alarm, ts):
        AlarmEvent.objects.create(alarm=alarm, ts=ts, event=AlarmEventType.ACTIVATED, state_before="normal",
                                  state_after="active_unacked", active=True, acked=False, key=alarm.definition.key,
                                  tag_name=alarm.tag.name, priority=alarm.definition.priority)

    other = alarm_of(make_definition(make_tag("Feed_Flow"), "LO", 5.0, priority="high"))
    for i in range(12):  # a flood: 12 activations in one 10-minute period, chattering (3+ in a minute)
        activation(hi_alarm, base + timedelta(seconds=10 * i))
    activation(other, base + timedelta(minutes=30))
    Alarm.objects.filter(pk=other.pk).update(active=True, activated_at=now - timedelta(hours=30))
    from alarms.services import alarm_shelve

    alarm_shelve(alarm=hi_alarm, user=supervisor, duration_seconds=3600, reason="tuning")
    r = operator_client.get("/api/alarms/kpis")
    assert r.status_code == 200, r.content
    k = r.json()
    assert k["annunciated"] == 13
    assert k["alarms_per_10min"]["peak"] == 12 and k["alarms_per_10min"]["periods"] in (144, 145)
    assert k["floods"]["count"] == 1 and k["floods"]["periods"][0]["count"] == 12
    assert k["most_frequent"][0]["key"] == "reactor_temp_hi" and k["most_frequent"][0]["count"] == 12
    assert k["chattering"][0]["key"] == "reactor_temp_hi" and k["chattering"][0]["max_per_minute"] == 6
    assert [s["alarm_id"] for s in k["stale"]["alarms"]] == [other.pk]
    assert k["stale"]["alarms"][0]["active_for_seconds"] >= 30 * 3600
    assert k["shelved"]["count"] == 1 and k["shelved"]["alarms"][0]["shelved_by"] == "sam"
    assert k["by_priority"] == {"medium": 12, "high": 1}
    # Names, for people: the KPI page shows them, not keys.
    assert k["most_frequent"][0]["name"] == "Reactor Temp High" and k["chattering"][0]["name"] == "Reactor Temp High"
    assert k["stale"]["alarms"][0]["name"] == other.definition.name
    assert k["shelved"]["alarms"][0]["name"] == "Reactor Temp High"


def test_the_journal_names_each_alarm_as_named_when_the_row_was_written(temp, hi, record, operator_client):
    record(temp, 90.0)
    AlarmDefinition.objects.filter(pk=hi.pk).update(name="Reactor Overheat")  # renamed later
    res = operator_client.get("/api/alarms/history")
    (row,) = res.json()["results"]
    assert row["key"] == "reactor_temp_hi" and row["name"] == "Reactor Temp High"
    lines = list(csv.reader(io.StringIO(b"".join(operator_client.get("/api/alarms/history?format=csv")
                                                 .streaming_content).decode())))
    assert lines[1][lines[0].index("name")] == "Reactor Temp High"


def test_the_journal_shows_values_with_the_tags_decimals_when_asked_and_keeps_them_whole(temp, hi, record,
                                                                                          operator_client):
    temp.decimals = 1
    temp.save(update_fields=["decimals"])
    record(temp, 90.04321)
    (row,) = operator_client.get("/api/alarms/history").json()["results"]
    assert row["value"] == 90.04321 and "value_text" not in row
    (row,) = operator_client.get("/api/alarms/history?formatted=true").json()["results"]
    assert (row["value"], row["value_text"]) == (90.04321, "90.0")
    lines = list(csv.reader(io.StringIO(b"".join(operator_client.get("/api/alarms/history?format=csv&formatted=1")
                                                 .streaming_content).decode())))
    assert lines[1][lines[0].index("value")] == "90.0"


def test_it_validates_the_kpi_window(operator_client):
    assert operator_client.get("/api/alarms/kpis", {"start": "2026-01-02T00:00:00Z",
                                                    "end": "2026-01-01T00:00:00Z"}).status_code == 400
    assert operator_client.get("/api/alarms/kpis", {"start": "2025-01-01T00:00:00Z",
                                                    "end": "2026-01-01T00:00:00Z"}).status_code == 400
    assert operator_client.get("/api/alarms/kpis", {"start": "soon"}).status_code == 400


# --- seed 004 ---------------------------------------------------------------------------------------------


@pytest.fixture
def bearing(pump_type, pumps, make_definition, record):
    member = pump_type.member_tags.get(member="BearingTempDE")
    d = make_definition(None, "HI", 75.0, device_type_tag=member, key="bearing_temp_high", name="Bearing Temp High",
                        message="Bearing temperature exceeds {setpoint}{unit}", category="mechanical",
                        priority="high")
    record(pumps[0].tags.get(member="BearingTempDE"), 80.0)
    return d


def test_it_lists_a_devices_active_alarms_in_the_seed_shape(bearing, operator_client):
    r = operator_client.get("/api/sites/plant-a/devices/pump-01/alarms")
    assert r.status_code == 200, r.content
    (item,) = r.json()["data"]
    assert set(item) == {"id", "name", "priority", "category", "activatedAt", "acknowledged", "message"}
    assert item["id"] == "bearing_temp_high" and item["name"] == "Bearing Temp High"
    assert item["category"] == "mechanical" and item["acknowledged"] is False
    assert item["message"] == "Bearing temperature exceeds 75°C" and item["activatedAt"].endswith("Z")
    assert operator_client.get("/api/sites/plant-a/devices/pump-02/alarms").json() == {"data": []}


def test_it_shows_active_alarms_in_the_device_detail(bearing, operator_client):
    r = operator_client.get("/api/sites/plant-a/devices/pump-01")
    assert r.status_code == 200, r.content
    assert [a["id"] for a in r.json()["activeAlarms"]] == ["bearing_temp_high"]


def test_it_acknowledges_a_device_alarm(bearing, operator_client):
    r = operator_client.post("/api/sites/plant-a/devices/pump-01/alarms/bearing_temp_high/acknowledge")
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"id", "acknowledged", "acknowledgedBy", "acknowledgedAt"}
    assert body["id"] == "bearing_temp_high" and body["acknowledged"] is True and body["acknowledgedBy"] == "olivia"
    assert AuditRecord.objects.filter(action="alarm.acknowledge").count() == 1
    r = operator_client.post("/api/sites/plant-a/devices/pump-01/alarms/bearing_temp_high/acknowledge")
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"


def test_it_answers_device_errors_in_the_seed_shape(bearing, operator_client, api_client):
    r = operator_client.post("/api/sites/plant-a/devices/pump-01/alarms/no_such_alarm/acknowledge")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert "no_such_alarm" in r.json()["error"]["message"]
    assert operator_client.get("/api/sites/plant-a/devices/pump-99/alarms").status_code == 404
    assert operator_client.get("/api/sites/nowhere/devices/pump-01/alarms").status_code == 404
    r = api_client.get("/api/sites/plant-a/devices/pump-01/alarms")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    r = api_client.post("/api/sites/plant-a/devices/pump-01/alarms/bearing_temp_high/acknowledge")
    assert r.status_code == 401
    assert Alarm.objects.filter(definition=bearing, acked=False).count() == 1


def test_it_lets_every_role_use_the_device_alarm_routes(bearing, client_as):
    for role in Role:
        assert client_as(role).get("/api/sites/plant-a/devices/pump-01/alarms").status_code == 200
    r = client_as(Role.OPERATOR).post("/api/sites/plant-a/devices/pump-01/alarms/bearing_temp_high/acknowledge")
    assert r.status_code == 200
    assert bearing.alarms.get(tag__machine__machine_id="pump-01").state == AlarmState.ACTIVE_ACKED


def test_it_documents_every_alarm_route_in_the_schema_without_warnings(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "schema.yaml"
    result = subprocess.run([sys.executable, "manage.py", "spectacular", "--urlconf", "alarms.tests.urls_schema",
                             "--validate", "--fail-on-warn", "--file", str(out)],
                            cwd=Path(__file__).resolve().parents[2], env={**os.environ, "DEBUG": "1"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    schema = out.read_text()
    for route in ("/api/alarms:", "/api/alarms/{id}/ack:", "/api/alarms/{id}/shelve:", "/api/alarms/history:",
                  "/api/alarms/kpis:", "/api/sites/{site_id}/devices/{device_id}/alarms/{alarm_id}/acknowledge:"):
        assert route in schema
