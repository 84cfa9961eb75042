"""Tag API (seeds 000 and 003): single and batch writes, e-signed writes, write stats and the write rate limit
over HTTP."""

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.models import AuditRecord
from conftest import PASSWORD
from scada.roles import Role
from tags.live import live_get_many
from tags.models import Machine

pytestmark = pytest.mark.django_db


# --- writes -------------------------------------------------------------------------------------------------------

def test_it_writes_with_the_seed_003_response(supervisor, setpoint):
    from conftest import client_for

    with time_machine.travel("2024-08-26T11:15:30Z", tick=True):  # the seed's "now", so its time is recent
        r = client_for(supervisor).put("/api/tags/machine_001/Setpoint_Temperature/write",
                                       {"value": 92.3, "quality": "GOOD", "timestamp": "2024-08-26T11:15:00Z"},
                                       format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["success"], body["message"]) == (True, "Tag value written successfully")
    tag = body["tag"]
    assert (tag["machine_id"], tag["name"], tag["datatype"], tag["value"]) == (
        "machine_001", "Setpoint_Temperature", "REAL", 92.3)
    assert (tag["timestamp"], tag["quality"], tag["last_write_by"], tag["write_count"]) == (
        "2024-08-26T11:15:00Z", "GOOD", "sam", 1)
    assert tag["last_write_at"].endswith("Z")
    assert AuditRecord.objects.get(pk=tag["audit_id"]).action == "tag.write"


def test_it_writes_by_name_with_post_as_seed_000_shows(supervisor_client, setpoint):
    r = supervisor_client.post("/api/tags/Setpoint_Temperature/write", {"value": 50}, format="json")
    assert r.status_code == 200 and r.json()["tag"]["value"] == 50.0
    r = supervisor_client.get("/api/tags/Setpoint_Temperature")
    assert r.json()["value"] == 50.0 and r.json()["write_count"] == 1


def test_it_writes_dotted_member_tags(operator_client, pump_type, site):
    from tags.services import machine_create_from_type

    machine_create_from_type(machine_id="pump-01", device_type=pump_type, site=site)
    r = operator_client.post("/api/tags/pump-01.SpeedSetpoint/write", {"value": 1600.0}, format="json")
    assert r.status_code == 200, r.content
    r = operator_client.put("/api/tags/pump-01/SpeedSetpoint/write", {"value": 1500.0}, format="json")
    assert r.status_code == 200 and r.json()["tag"]["previous_value"] == 1600.0


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"value": 250.0}, 422, "Value 250.0 exceeds maximum limit of 150.0 for tag 'Setpoint_Temperature'"),
    ({"value": -5.0}, 422, "Value -5.0 is below minimum limit of 0.0 for tag 'Setpoint_Temperature'"),
    ({"value": "hot"}, 422, "Value 'hot' is not a valid REAL for tag 'Setpoint_Temperature'"),
    ({"value": None}, 422, "A value is required to write tag 'Setpoint_Temperature'"),
    ({}, 400, "value: This field is required."),
    ({"value": 1.0, "timestamp": "yesterday"}, 400, None),
    ({"value": 1.0, "quality": "SUPERB"}, 400, "Invalid quality: 'SUPERB' not in ['GOOD', 'UNCERTAIN', 'BAD']"),
    ({"value": 1.0, "timestamp": "2999-01-01T00:00:00Z"}, 422,
     "timestamp is in the future (more than 300 s ahead of the server clock)"),
])
def test_it_refuses_bad_writes_and_changes_nothing(supervisor_client, setpoint, body, status, detail):
    r = supervisor_client.put("/api/tags/machine_001/Setpoint_Temperature/write", body, format="json")
    assert r.status_code == status, r.content
    if detail:
        assert r.json()["detail"] == detail
    setpoint.refresh_from_db()
    assert setpoint.write_count == 0 and live_get_many([setpoint.pk])[setpoint.pk] is None
    # Refused by the service: audited as an attempt, never as a write.
    assert not AuditRecord.objects.filter(action__startswith="tag.").exclude(action="tag.write_refused").exists()


@pytest.mark.parametrize("datatype", ["INT", "REAL"])
def test_it_answers_422_for_a_boolean_written_to_a_number_tag(supervisor_client, make_tag, datatype):
    # Seed 000: 422 for a wrong data type. JSON true used to reach an INT tag as 1.
    tag = make_tag("Batch_Count", datatype=datatype, is_writable=True)
    r = supervisor_client.post("/api/tags/Batch_Count/write", {"value": True}, format="json")
    assert r.status_code == 422, r.content
    assert r.json() == {"detail": f"Value True is not a valid {datatype} for tag 'Batch_Count'"}
    tag.refresh_from_db()
    assert tag.write_count == 0 and live_get_many([tag.pk])[tag.pk] is None
    assert supervisor_client.post("/api/tags/Batch_Count/write", {"value": 1}, format="json").status_code == 200


def test_it_answers_403_for_a_read_only_tag(admin_client, temp_sensor):
    r = admin_client.post("/api/tags/Temperature_Sensor_01/write", {"value": 1.0}, format="json")
    assert r.status_code == 403 and r.json() == {"detail": "Tag 'Temperature_Sensor_01' is not writable"}


def test_it_answers_403_below_the_tags_write_role_and_200_at_it(client_as, setpoint):
    r = client_as(Role.OPERATOR).post("/api/tags/Setpoint_Temperature/write", {"value": 1.0}, format="json")
    assert r.status_code == 403 and "requires the supervisor role" in r.json()["detail"]
    r = client_as(Role.SUPERVISOR).post("/api/tags/Setpoint_Temperature/write", {"value": 1.0}, format="json")
    assert r.status_code == 200


def test_it_runs_the_e_signature_flow_over_http(supervisor_client, supervisor, make_tag):
    make_tag("Release", datatype="BOOL", is_writable=True, requires_signature=True)
    url = "/api/tags/Release/write"
    r = supervisor_client.post(url, {"value": True}, format="json")
    assert r.status_code == 403 and "requires an electronic signature" in r.json()["detail"]
    r = supervisor_client.post(url, {"value": True, "signature": {"password": "wrong", "meaning": "Approved",
                                                                  "reason": "QA"}}, format="json")
    assert r.status_code == 403 and r.json()["detail"] == "Signature rejected: wrong password."
    supervisor.refresh_from_db()
    assert supervisor.failed_login_count == 1
    r = supervisor_client.post(url, {"value": True, "signature": {"password": PASSWORD, "meaning": "Approved",
                                                                  "reason": "QA release"}}, format="json")
    assert r.status_code == 200, r.content
    record = AuditRecord.objects.get(pk=r.json()["tag"]["audit_id"])
    assert record.new_value["signature"]["meaning"] == "Approved" and record.reason == "QA release"


def test_it_answers_502_when_the_plc_refuses(supervisor_client, setpoint, plc_router):
    plc_router([setpoint], fail="timeout after 3 retries", unknown=True)
    r = supervisor_client.post("/api/tags/Setpoint_Temperature/write", {"value": 1.0}, format="json")
    assert r.status_code == 502
    assert "timeout after 3 retries" in r.json()["detail"] and "check before retrying" in r.json()["detail"]
    assert AuditRecord.objects.get(action="tag.write_failed").new_value["unknown_outcome"] is True


def test_it_answers_405_for_a_method_a_route_does_not_serve(operator_client, setpoint):
    assert operator_client.get("/api/tags/Setpoint_Temperature/write").status_code == 405
    assert operator_client.delete("/api/tags/stats").status_code == 405


# --- stats --------------------------------------------------------------------------------------------------------

def test_it_reports_stats_in_the_seed_shape(operator_client, supervisor, make_tag, set_live):
    from tags.services import tag_write

    a = make_tag("A", is_writable=True)
    b = make_tag("B", datatype="BOOL")
    make_tag("C", datatype="INT", is_active=False)
    set_live(b, True, quality="UNCERTAIN")
    tag_write(tag=a, value=1.0, user=supervisor)
    tag_write(tag=a, value=2.0, user=supervisor)
    r = operator_client.get("/api/tags/stats")
    assert r.status_code == 200
    assert r.json() == {
        "total_tags": 3, "active_tags": 2, "inactive_tags": 1,
        "by_datatype": {"BOOL": 1, "INT": 1, "REAL": 1, "STRING": 0},
        "by_quality": {"GOOD": 1, "UNCERTAIN": 1, "BAD": 0, "NULL": 1},
        "writable_tags": 1, "recent_writes": 2,
    }


def test_it_counts_only_writes_of_the_last_24_hours(operator_client, supervisor, setpoint):
    import time_machine

    from tags.services import tag_write

    with time_machine.travel("2026-01-01T00:00:00Z", tick=True):
        tag_write(tag=setpoint, value=1.0, user=supervisor)
    tag_write(tag=setpoint, value=2.0, user=supervisor)
    assert operator_client.get("/api/tags/stats").json()["recent_writes"] == 1


# --- batch write --------------------------------------------------------------------------------------------------

def test_it_batch_writes_with_partial_success(supervisor, setpoint, temp_sensor, make_tag, site):
    from conftest import client_for

    other = Machine.objects.create(machine_id="machine_002", site=site)
    make_tag("Enable_Motor", datatype="BOOL", is_writable=True, machine=other)
    with time_machine.travel("2024-08-26T11:50:00Z", tick=True):
        r = client_for(supervisor).post("/api/tags/batch/write", {"writes": [
            {"machine_id": "machine_001", "name": "Setpoint_Temperature", "value": 85.0, "quality": "GOOD"},
            {"machine_id": "machine_002", "name": "Enable_Motor", "value": True, "quality": "GOOD"},
            {"machine_id": "machine_001", "name": "Temperature_Sensor_01", "value": 1.0},
            {"machine_id": "machine_001", "name": "Setpoint_Temperature", "value": 999.0},
            {"machine_id": "machine_001", "name": "Nope", "value": 1.0},
            {"machine_id": "machine_002", "name": "Setpoint_Temperature", "value": 1.0},
            {"name": "Setpoint_Temperature", "value": 75.5, "timestamp": "2024-08-26T11:45:00Z"},
            {"name": "Setpoint_Temperature", "value": 75.5, "timestamp": "not a time"},
        ]}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["success"], body["total_writes"], body["successful_writes"], body["failed_writes"]) == (
        False, 8, 3, 5)
    res = body["results"]
    assert [x["success"] for x in res] == [True, True, False, False, False, False, True, False]
    assert res[0]["timestamp"].endswith("Z") and res[6]["timestamp"] == "2024-08-26T11:45:00Z"
    assert res[6]["machine_id"] == "machine_001"
    assert (res[2]["status"], res[2]["error"]) == (403, "Tag 'Temperature_Sensor_01' is not writable")
    assert res[3]["status"] == 422 and "exceeds maximum limit" in res[3]["error"]
    assert (res[4]["status"], res[4]["error"]) == (404, "Tag 'Nope' not found on machine 'machine_001'")
    assert res[5]["status"] == 404
    assert res[7]["status"] == 400
    assert AuditRecord.objects.filter(action="tag.write").count() == 3
    setpoint.refresh_from_db()
    assert setpoint.write_count == 2


def test_it_reports_success_when_every_batch_item_succeeds(supervisor_client, setpoint):
    r = supervisor_client.post("/api/tags/batch/write", {"writes": [
        {"machine_id": "machine_001", "name": "Setpoint_Temperature", "value": 85.0}]}, format="json")
    assert r.json()["success"] is True and r.json()["successful_writes"] == 1


@pytest.mark.parametrize("body", [{}, {"writes": []}, {"writes": "all"}, {"writes": [1, 2]},
                                  {"writes": [{"name": "x", "value": 1}] * 1001}])
def test_it_answers_400_for_a_bad_batch_envelope(supervisor_client, body):
    r = supervisor_client.post("/api/tags/batch/write", body, format="json")
    assert r.status_code == 400 and r.json()["detail"]


@time_machine.travel("2024-08-26T11:15:30Z", tick=True)  # the seed's "now": its example time is then recent
def test_it_takes_seed_003s_write_example_as_written_on_the_demos_lab_tag(supervisor):
    """The demo has a tag no PLC feeds (a LIMS value), so quality and timestamp from the writer are accepted."""
    from conftest import client_for
    from drivers.demo import load_drivers
    from tags.demo import load_plant

    with time_machine.travel("2024-08-26T11:00:00Z", tick=True):  # the demo's own lab value comes first
        load_plant()
        load_drivers()
    supervisor_client = client_for(supervisor)
    r = supervisor_client.put("/api/tags/reactor-01/Lab_Viscosity/write",
                              {"value": 92.3, "quality": "GOOD", "timestamp": "2024-08-26T11:15:00Z"}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["success"] is True and body["message"] == "Tag value written successfully"
    assert {k: body["tag"][k] for k in ("machine_id", "name", "datatype", "value", "timestamp", "quality")} == {
        "machine_id": "reactor-01", "name": "Lab_Viscosity", "datatype": "REAL", "value": 92.3,
        "timestamp": "2024-08-26T11:15:00Z", "quality": "GOOD"}
    # A PLC-fed demo tag: refused here only because no drivers worker polls its PLC in this test (502); the
    # stated quality and timestamp themselves are accepted (see test_it_takes_good_quality_and_a_timestamp_...).
    r = supervisor_client.put("/api/tags/reactor-01/Reactor_Temp_SP/write",
                              {"value": 80.0, "quality": "GOOD", "timestamp": "2024-08-26T11:15:00Z"}, format="json")
    assert r.status_code == 502 and "not being polled" in r.json()["detail"]


def test_it_checks_every_batch_item_first_and_answers_each_when_one_in_the_middle_has_a_nul(supervisor_client, setpoint,
                                                                                            make_tag):
    note = make_tag("Batch_Note", datatype="STRING", is_writable=True)
    r = supervisor_client.post("/api/tags/batch/write", {"writes": [
        {"name": "Setpoint_Temperature", "value": 10.0},
        {"name": "Batch_Note", "value": "bad\x00note"},
        {"name": "Batch_Note", "value": "good note", "reason": "r\x00"},
        {"name": "Setpoint\x00", "value": 1.0},
        {"name": "Batch_Note", "value": "fine"},
    ]}, format="json")
    assert r.status_code == 200, r.content
    res = r.json()["results"]
    assert [x["success"] for x in res] == [True, False, False, False, True]
    assert [x.get("status") for x in res[1:4]] == [400, 400, 400]
    assert "NUL" in res[1]["error"] and "NUL" in res[2]["error"] and "NUL" in res[3]["error"]
    assert live_get_many([note.pk])[note.pk].value == "fine"
    assert AuditRecord.objects.filter(action="tag.write").count() == 2
    assert AuditRecord.objects.filter(action="tag.write_refused", object_id="Batch_Note").count() == 2


def test_it_answers_503_per_item_when_the_audit_trail_fails_mid_batch(supervisor_client, setpoint, make_tag):
    from tests.fixtures import audit_insert_fails

    make_tag("Other_SP", is_writable=True)
    with audit_insert_fails("tag.write"):
        r = supervisor_client.post("/api/tags/batch/write", {"writes": [
            {"name": "Setpoint_Temperature", "value": 10.0}, {"name": "Other_SP", "value": 5.0}]}, format="json")
    assert r.status_code == 200, r.content
    assert [(x["success"], x["status"]) for x in r.json()["results"]] == [(False, 503), (False, 503)]
    assert live_get_many([setpoint.pk])[setpoint.pk] is None


def test_it_refuses_a_signature_meaning_with_a_nul_with_400(supervisor_client, make_tag):
    tag = make_tag("Batch_Release", datatype="BOOL", is_writable=True, requires_signature=True)
    r = supervisor_client.post("/api/tags/Batch_Release/write", {"value": True, "signature": {
        "password": PASSWORD, "meaning": "Appro\x00ved", "reason": "QA"}}, format="json")
    assert r.status_code == 400 and r.json()["detail"] == "signature: meaning contains a NUL character (\\u0000)"
    tag.refresh_from_db()
    assert tag.write_count == 0 and live_get_many([tag.pk])[tag.pk] is None
    assert AuditRecord.objects.filter(action="tag.write_refused").count() == 1


def test_it_audits_a_malformed_write_body_as_a_refused_attempt(supervisor_client, setpoint):
    r = supervisor_client.post("/api/tags/Setpoint_Temperature/write", {"value": 1.0, "reason": "a\x00b"},
                               format="json")
    assert r.status_code == 400
    refused = AuditRecord.objects.get(action="tag.write_refused")
    assert refused.new_value["status"] == 400 and "reason" in refused.new_value["error"]


@pytest.fixture
def rate_window():
    """Frozen 10 s into a minute (before the client's token is issued), so no test straddles two rate windows."""
    import time_machine

    with time_machine.travel(datetime(2026, 3, 1, 8, 0, 10, tzinfo=UTC), tick=False):
        yield


def _batch(client, n):
    return client.post("/api/tags/batch/write", {"writes": [
        {"machine_id": "machine_001", "name": "Setpoint_Temperature", "value": 80.0 + i} for i in range(n)]},
        format="json")


def test_it_counts_each_batch_item_toward_the_write_rate_limit(rate_window, supervisor_client, setpoint, settings):
    settings.KILN_RATE_LIMITS = {**settings.KILN_RATE_LIMITS, "tag_write": 5}
    r = _batch(supervisor_client, 3)
    assert r.status_code == 200 and r["X-RateLimit-Remaining"] == "2"
    r = supervisor_client.post("/api/tags/Setpoint_Temperature/write", {"value": 70.0}, format="json")
    assert r.status_code == 200 and r["X-RateLimit-Remaining"] == "1"


def test_it_answers_429_with_what_is_left_for_a_batch_larger_than_the_rest(rate_window, supervisor_client, setpoint,
                                                                           settings):
    settings.KILN_RATE_LIMITS = {**settings.KILN_RATE_LIMITS, "tag_write": 5}
    assert _batch(supervisor_client, 3).status_code == 200
    r = _batch(supervisor_client, 3)
    assert r.status_code == 429 and r["X-RateLimit-Remaining"] == "2" and r.json()["remaining"] == 2
    assert r.json()["detail"].startswith("API rate limit exceeded: 3 writes asked, 2 left in this minute; retry in ")
    setpoint.refresh_from_db()
    assert setpoint.write_count == 3  # the refused batch wrote nothing
    assert _batch(supervisor_client, 2).status_code == 200  # and used nothing
