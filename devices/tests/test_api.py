"""Seed 004 device routes: device list and detail with live values and status, tag reads and writes, roles,
404s in seed 004's error shape. Commands are in test_commands.py; both use the fixtures of conftest.py."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditRecord
from devices.tests.conftest import BASE, TS, error_of
from scada.roles import Role
from tags.models import Machine, Site, Tag
from tags.services import machine_create_from_type
from tags.values import Sample, tag_values_record

pytestmark = pytest.mark.django_db


# --- list and detail -------------------------------------------------------------------------------------


def test_it_lists_the_devices_of_a_site_with_the_seed_shape_and_live_status(operator_client, pump1, pump2, record):
    record(pump1, Running=True, Faulted=False)
    record(pump2, Running=False, Faulted=False)
    r = operator_client.get(BASE)
    assert r.status_code == 200, r.content
    assert r.json() == {"data": [
        {"id": "pump-01", "name": "Pump 1", "typeId": "consystence.pump.centrifugal", "typeVersion": "1.2.0",
         "location": "Sump Room North", "processId": "demo-pump-station", "status": "running"},
        {"id": "pump-02", "name": "Pump 2", "typeId": "consystence.pump.centrifugal", "typeVersion": "1.2.0",
         "location": "Sump Room North", "processId": "demo-pump-station", "status": "stopped"},
    ]}


def test_it_lists_only_the_devices_of_that_site(operator_client, pump1, centrifugal):
    other = Site.objects.create(site_id="other-site", name="Other")
    machine_create_from_type(machine_id="pump-99", device_type=centrifugal, site=other)
    assert [d["id"] for d in operator_client.get(BASE).json()["data"]] == ["pump-01"]
    assert [d["id"] for d in operator_client.get("/api/sites/other-site/devices").json()["data"]] == ["pump-99"]


def test_it_lists_a_site_without_devices_as_empty(operator_client, demo_site):
    assert operator_client.get(BASE).json() == {"data": []}


def test_it_derives_the_status_from_running_and_faulted(operator_client, pump1, record):
    def status():
        return operator_client.get(f"{BASE}/pump-01").json()["status"]

    assert status() == "unknown"  # no live values yet: the stored status
    record(pump1, Running=True, Faulted=False)
    assert status() == "running"
    record(pump1, Faulted=True)
    assert status() == "faulted"  # a fault wins over running
    record(pump1, Running=False, Faulted=False)
    assert status() == "stopped"
    record(pump1, Running=True, quality="BAD", substatus="comm_failure")
    Machine.objects.filter(pk=pump1.pk).update(status="stopped")
    assert status() == "stopped"  # a BAD Running is not believed; the stored status stands


def test_it_uses_the_type_status_expression_when_set(operator_client, pump1, centrifugal, record):
    centrifugal.status_expression = "{tags.Speed} > 10 ? 'running' : 'stopped'"
    centrifugal.save()
    record(pump1, Running=False, Speed=1200.0)
    assert operator_client.get(BASE).json()["data"][0]["status"] == "running"
    assert operator_client.get(f"{BASE}/pump-01").json()["status"] == "running"
    centrifugal.status_expression = "{tags.Speed}"  # not a status: unknown rather than a guess
    centrifugal.save()
    assert operator_client.get(f"{BASE}/pump-01").json()["status"] == "unknown"


def test_it_shows_device_detail_with_live_tags_by_member_name(operator_client, pump1, record):
    record(pump1, Running=True, Faulted=False)
    record(pump1, ts=TS + 1, Speed=1485.2, Current=42.7, BearingTempDE=58.3, BearingTempNDE=55.1)
    r = operator_client.get(f"{BASE}/pump-01")
    assert r.status_code == 200, r.content
    body = r.json()
    assert {k: body[k] for k in ("id", "name", "typeId", "typeVersion", "location", "processId", "status")} == {
        "id": "pump-01", "name": "Pump 1", "typeId": "consystence.pump.centrifugal", "typeVersion": "1.2.0",
        "location": "Sump Room North", "processId": "demo-pump-station", "status": "running"}
    tags = body["tags"]
    assert tags["Running"] == {"value": True, "timestamp": "2026-02-18T10:30:00Z"}
    assert tags["Faulted"] == {"value": False, "timestamp": "2026-02-18T10:30:00Z"}
    assert tags["Speed"] == {"value": 1485.2, "unit": "RPM", "timestamp": "2026-02-18T10:30:01Z"}
    assert tags["BearingTempDE"] == {"value": 58.3, "unit": "°C", "timestamp": "2026-02-18T10:30:01Z"}
    assert tags["SpeedSetpoint"] == {"value": None, "unit": "RPM", "timestamp": None}  # never had a value
    assert body["activeAlarms"] == []


def test_it_lists_the_commands_a_client_may_send_in_device_detail(operator_client, pump1):
    commands = operator_client.get(f"{BASE}/pump-01").json()["commands"]
    assert [c["id"] for c in commands] == ["set_mode", "set_speed", "start", "stop"]
    by_id = {c["id"]: c for c in commands}
    assert by_id["set_speed"] == {
        "id": "set_speed", "name": "Set speed", "description": "", "minRole": "operator",
        "parameters": {"speed": {"type": "REAL", "min": 0, "max": 3000}},
        "preconditions": [{"condition": "!{tags.Faulted}", "reason": "Pump is faulted"}]}
    assert by_id["set_mode"]["minRole"] == "supervisor"
    assert by_id["start"]["parameters"] == {}


BEARING_ALARM = {"id": "bearing_temp_high", "name": "Bearing Temp High", "priority": "warning"}


def bearing_alarm_on_pump_01(machine):
    """A KILN_DEVICE_ALARMS_PROVIDER for the tests below."""
    return [BEARING_ALARM] if machine.machine_id == "pump-01" else []


def broken_alarms_provider(machine):
    raise RuntimeError("alarm store down")


def test_it_fills_active_alarms_from_the_configured_provider(operator_client, pump1, settings):
    settings.KILN_DEVICE_ALARMS_PROVIDER = f"{__name__}.bearing_alarm_on_pump_01"
    r = operator_client.get(f"{BASE}/pump-01")
    assert r.status_code == 200 and r.json()["activeAlarms"] == [BEARING_ALARM]


def test_it_shows_the_device_without_alarms_when_the_provider_fails(operator_client, pump1, settings):
    settings.KILN_DEVICE_ALARMS_PROVIDER = f"{__name__}.broken_alarms_provider"
    r = operator_client.get(f"{BASE}/pump-01")
    assert r.status_code == 200 and r.json()["activeAlarms"] == []


def test_it_shows_no_active_alarms_when_no_provider_is_configured(operator_client, pump1, settings):
    settings.KILN_DEVICE_ALARMS_PROVIDER = ""
    r = operator_client.get(f"{BASE}/pump-01")
    assert r.status_code == 200 and r.json()["activeAlarms"] == []


def test_it_reads_a_device_with_a_constant_number_of_queries(operator_client, pump1, pump2, record):
    record(pump1, Running=True)
    operator_client.get(BASE)  # warm-up: content types, caches
    with CaptureQueriesContext(connection) as few:
        assert operator_client.get(BASE).status_code == 200
    for i in range(3, 9):
        machine_create_from_type(machine_id=f"pump-{i:02d}", device_type=pump1.device_type, site=pump1.site)
    with CaptureQueriesContext(connection) as many:
        assert len(operator_client.get(BASE).json()["data"]) == 8
    assert len(few) == len(many) <= 3
    with CaptureQueriesContext(connection) as detail:
        assert operator_client.get(f"{BASE}/pump-01").status_code == 200
    assert len(detail) <= 4  # site + machine, its tags, active alarms, its type's commands


# --- tags ------------------------------------------------------------------------------------------------


def test_it_reads_one_tag_with_the_seed_shape(operator_client, pump1, record):
    record(pump1, ts=TS + 1, Speed=1485.2)
    r = operator_client.get(f"{BASE}/pump-01/tags/Speed")
    assert r.status_code == 200, r.content
    assert r.json() == {"name": "Speed", "value": 1485.2, "dataType": "real", "unit": "RPM",
                        "timestamp": "2026-02-18T10:30:01Z", "quality": "good"}


def test_it_reads_a_tag_by_its_full_name_too(operator_client, pump1, record):
    record(pump1, Running=True)
    body = operator_client.get(f"{BASE}/pump-01/tags/pump-01.Running").json()
    assert body["name"] == "Running" and body["value"] is True and body["dataType"] == "bool"


def test_it_reads_a_tag_without_a_value_as_nulls(operator_client, pump1):
    assert operator_client.get(f"{BASE}/pump-01/tags/Current").json() == {
        "name": "Current", "value": None, "dataType": "real", "unit": "A", "timestamp": None, "quality": None}


def test_it_shows_bad_quality_as_the_seed_spells_it(operator_client, pump1, record):
    record(pump1, Speed=0.0, quality="BAD", substatus="comm_failure")
    assert operator_client.get(f"{BASE}/pump-01/tags/Speed").json()["quality"] == "bad"


def test_it_reads_every_tag_of_a_device(operator_client, pump1, record):
    record(pump1, Running=True, Speed=1485.2)
    r = operator_client.get(f"{BASE}/pump-01/tags")
    assert r.status_code == 200, r.content
    items = {t["name"]: t for t in r.json()["data"]}
    assert set(items) == {"Running", "Faulted", "Speed", "SpeedSetpoint", "Current", "BearingTempDE",
                          "BearingTempNDE", "StartCmd", "StopCmd", "Mode"}
    assert items["Speed"]["value"] == 1485.2 and items["Speed"]["quality"] == "good"
    assert items["Running"]["value"] is True and items["Faulted"]["value"] is None


def test_it_writes_a_tag_and_answers_the_previous_value(operator_client, pump1, record):
    record(pump1, SpeedSetpoint=1500.0)
    r = operator_client.put(f"{BASE}/pump-01/tags/SpeedSetpoint", {"value": 1600.0}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"name", "value", "previousValue", "timestamp"}
    assert body["name"] == "SpeedSetpoint" and body["value"] == 1600.0 and body["previousValue"] == 1500.0
    assert body["timestamp"].endswith("Z")
    assert operator_client.get(f"{BASE}/pump-01/tags/SpeedSetpoint").json()["value"] == 1600.0
    tag = Tag.objects.get(name="pump-01.SpeedSetpoint")
    assert tag.write_count == 1 and tag.last_write_by == "olivia"
    audit = AuditRecord.objects.get(action="tag.write", object_id="pump-01.SpeedSetpoint")
    assert audit.new_value["value"] == 1600.0 and audit.new_value["source"] == "api.device"
    assert audit.old_value["value"] == 1500.0


def test_it_refuses_a_write_below_the_tag_write_role(operator_client, supervisor_client, pump1):
    r = operator_client.put(f"{BASE}/pump-01/tags/Mode", {"value": "manual"}, format="json")
    err = error_of(r, 403)
    assert err["code"] == "FORBIDDEN" and "requires the supervisor role" in err["message"]
    assert not AuditRecord.objects.filter(action="tag.write").exists()
    assert supervisor_client.put(f"{BASE}/pump-01/tags/Mode", {"value": "manual"}, format="json").status_code == 200


def test_it_refuses_a_write_to_a_read_only_tag(operator_client, pump1):
    err = error_of(operator_client.put(f"{BASE}/pump-01/tags/Speed", {"value": 1.0}, format="json"), 403)
    assert err["message"] == "Tag 'pump-01.Speed' is not writable"


def test_it_refuses_out_of_range_and_wrong_type_writes_with_422(operator_client, pump1):
    err = error_of(operator_client.put(f"{BASE}/pump-01/tags/SpeedSetpoint", {"value": 5000.0}, format="json"), 422)
    assert err["code"] == "UNPROCESSABLE"
    assert err["message"] == "Value 5000.0 exceeds maximum limit of 3000.0 for tag 'pump-01.SpeedSetpoint'"
    err = error_of(operator_client.put(f"{BASE}/pump-01/tags/SpeedSetpoint", {"value": "fast"}, format="json"), 422)
    assert "not a valid REAL" in err["message"]
    assert Tag.objects.get(name="pump-01.SpeedSetpoint").write_count == 0


def test_it_requires_a_value_to_write(operator_client, pump1):
    err = error_of(operator_client.put(f"{BASE}/pump-01/tags/SpeedSetpoint", {}, format="json"), 400)
    assert err["code"] == "BAD_REQUEST" and err["details"] == [{"field": "value", "message": "This field is required."}]


def test_it_refuses_fields_seed_004_does_not_define_in_a_write(operator_client, pump1):
    r = operator_client.put(f"{BASE}/pump-01/tags/SpeedSetpoint", {"value": 1600.0, "quality": "GOOD"}, format="json")
    err = error_of(r, 400)
    assert err["code"] == "BAD_REQUEST" and err["message"] == "Unknown or read-only fields: quality"
    assert Tag.objects.get(name="pump-01.SpeedSetpoint").write_count == 0


def test_it_writes_through_the_plc_when_a_driver_feeds_the_tag(operator_client, pump1, plc_router):
    tag = Tag.objects.get(name="pump-01.SpeedSetpoint")
    router = plc_router([tag])
    r = operator_client.put(f"{BASE}/pump-01/tags/SpeedSetpoint", {"value": 1200.0}, format="json")
    assert r.status_code == 200, r.content
    assert router.writes == [("pump-01.SpeedSetpoint", 1200.0)]


# --- not found -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "message"), [
    ("get", "/api/sites/nowhere/devices", "Site 'nowhere' not found"),
    ("get", "/api/sites/nowhere/devices/pump-01", "Site 'nowhere' not found"),
    ("get", f"{BASE}/pump-77", "Device 'pump-77' not found at site 'demo-site'"),
    ("get", f"{BASE}/pump-77/tags", "Device 'pump-77' not found at site 'demo-site'"),
    ("get", f"{BASE}/pump-01/tags/Nope", "Tag 'Nope' not found on device 'pump-01'"),
    ("put", f"{BASE}/pump-01/tags/Nope", "Tag 'Nope' not found on device 'pump-01'"),
    ("put", f"{BASE}/pump-77/tags/Speed", "Device 'pump-77' not found at site 'demo-site'"),
    ("post", f"{BASE}/pump-01/commands/launch", "Command 'launch' not found on device 'pump-01'"),
    ("post", f"{BASE}/pump-77/commands/start", "Device 'pump-77' not found at site 'demo-site'"),
])
def test_it_answers_404_in_the_seed_error_shape(operator_client, pump1, method, path, message):
    r = getattr(operator_client, method)(path, {"value": 1} if method == "put" else {}, format="json")
    err = error_of(r, 404)
    assert err == {"code": "NOT_FOUND", "message": message, "details": []}


def test_it_does_not_find_a_device_through_another_site(operator_client, pump1):
    Site.objects.create(site_id="other-site", name="Other")
    error_of(operator_client.get("/api/sites/other-site/devices/pump-01"), 404)


def test_it_finds_no_command_on_a_machine_without_a_type(operator_client, demo_site):
    Machine.objects.create(machine_id="reactor-01", site=demo_site)
    error_of(operator_client.post("/api/sites/demo-site/devices/reactor-01/commands/start", {}, format="json"), 404)


def test_it_shows_a_machine_without_a_type_with_its_tags_by_name(operator_client, demo_site):
    m = Machine.objects.create(machine_id="reactor-01", name="Reactor 1", site=demo_site)
    t = Tag.objects.create(machine=m, name="Reactor_Temp", datatype="REAL", unit="°C")
    tag_values_record(samples=[Sample(tag_id=t.pk, value=80.5, ts=TS)])
    body = operator_client.get("/api/sites/demo-site/devices/reactor-01").json()
    assert body["typeId"] is None and body["status"] == "unknown"
    assert body["tags"] == {"Reactor_Temp": {"value": 80.5, "unit": "°C", "timestamp": "2026-02-18T10:30:00Z"}}


# --- roles -----------------------------------------------------------------------------------------------

READ_PATHS = [BASE, f"{BASE}/pump-01", f"{BASE}/pump-01/tags", f"{BASE}/pump-01/tags/Speed"]


@pytest.mark.parametrize("path", READ_PATHS)
def test_it_requires_a_token_and_answers_in_the_seed_shape(api_client, pump1, path):
    err = error_of(api_client.get(path), 401)
    assert err["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("role", list(Role))
def test_it_lets_every_role_read(client_as, pump1, path, role):
    assert client_as(role).get(path).status_code == 200


@pytest.mark.parametrize("role", list(Role))
def test_it_lets_every_role_reach_the_write_and_command_routes(client_as, pump1, record, role):
    record(pump1, Running=False, Faulted=False)
    client = client_as(role)
    assert client.put(f"{BASE}/pump-01/tags/SpeedSetpoint", {"value": 10.0}, format="json").status_code == 200
    r = client.post(f"{BASE}/pump-01/commands/set_speed", {"parameters": {"speed": 20.0}}, format="json")
    assert r.status_code == 200, r.content


@pytest.mark.parametrize(("method", "path"), [
    ("put", f"{BASE}/pump-01/tags/SpeedSetpoint"), ("post", f"{BASE}/pump-01/commands/start")])
def test_it_refuses_writes_and_commands_without_a_token(api_client, pump1, method, path):
    error_of(getattr(api_client, method)(path, {"value": 1.0}, format="json"), 401)
    assert not AuditRecord.objects.filter(action__in=["tag.write", "device.command"]).exists()


def test_it_has_a_matrix_entry_for_every_device_route():
    from scada.api.matrix import ROUTE_ROLES
    from scada.api.routes import api_routes

    device_routes = {r.view_name: r.methods for r in api_routes() if r.view_name.startswith("devices-api:device-")}
    assert device_routes == {
        "devices-api:device-list": {"GET"}, "devices-api:device-detail": {"GET"},
        "devices-api:device-tag-list": {"GET"}, "devices-api:device-tag-detail": {"GET", "PUT"},
        "devices-api:device-command": {"POST"}}
    for name, methods in device_routes.items():
        assert {m: ROUTE_ROLES[name][m] for m in methods} == {m: Role.OPERATOR for m in methods}


def test_it_serves_the_device_routes_in_the_schema(api_client):
    r = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/sites/{site_id}/devices/{device_id}/commands/{command_id}" in paths

