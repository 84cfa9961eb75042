"""Per-tag display decimals: set and audited through the API, shown in admin, copied from device types."""

import pytest
from django.test import Client

from accounts.models import AuditRecord
from tags.display import value_text
from tags.models import Tag
from tags.services import machine_create_from_type

pytestmark = pytest.mark.django_db


def test_it_creates_and_updates_a_tags_decimals_through_the_api_with_audit(engineer_client, machine):
    r = engineer_client.post("/api/tags", {"machine_id": "machine_001", "name": "Flow_01", "datatype": "REAL",
                                           "unit": "m3/h", "decimals": 1}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["decimals"] == 1
    r = engineer_client.put("/api/tags/Flow_01", {"decimals": 3}, format="json")
    assert r.status_code == 200 and r.json()["decimals"] == 3
    assert Tag.objects.get(name="Flow_01").decimals == 3
    record = AuditRecord.objects.get(action="tag.update", object_id="Flow_01")
    assert (record.old_value, record.new_value) == ({"decimals": 1}, {"decimals": 3})


@pytest.mark.parametrize("decimals", [7, -1, "two", 1.5])
def test_it_refuses_decimals_outside_0_to_6_and_changes_nothing(engineer_client, temp_sensor, decimals):
    r = engineer_client.put("/api/tags/Temperature_Sensor_01", {"decimals": decimals}, format="json")
    assert r.status_code == 400 and "decimals" in r.json()["detail"]
    temp_sensor.refresh_from_db()
    assert temp_sensor.decimals is None


def test_a_device_instance_takes_its_members_decimals_from_the_type(pump_type, site):
    pump_type.member_tags.filter(member="Speed").update(decimals=0)
    machine_create_from_type(machine_id="pump-09", device_type=pump_type, site=site)
    assert Tag.objects.get(name="pump-09.Speed").decimals == 0


def test_the_admin_list_shows_values_with_the_tags_decimals(engineer, make_tag, set_live):
    set_live(make_tag("Speed_PV", unit="RPM", decimals=1), 1485.199951171875)
    client = Client()
    client.force_login(engineer)
    body = client.get("/admin/tags/tag/").content.decode()
    assert "1485.2" in body and "1485.19" not in body


@pytest.mark.parametrize(("value", "decimals", "unit", "text"), [
    (1485.199951171875, 1, "RPM", "1485.2 RPM"),
    (2.0, 2, "bar", "2.00 bar"),
    (72.4567, None, "", "72.46"),   # automatic: 2 decimals between 1 and 100, as the HMI's Kiln.fmtValue
    (1287, 0, "h", "1287 h"),
    (True, 2, "", "ON"),
    (None, 1, "°C", "—"),
])
def test_value_text_formats_as_the_hmi_does(value, decimals, unit, text):
    assert value_text(value, decimals, unit) == text


def test_the_tag_api_keeps_the_value_whole_and_adds_it_as_shown(operator_client, make_tag, set_live):
    set_live(make_tag("Flow_PV", unit="m3/h", decimals=1), 12.345678)
    body = operator_client.get("/api/tags/Flow_PV").json()
    assert (body["value"], body["value_text"], body["decimals"]) == (12.345678, "12.3", 1)


def test_the_tag_list_adds_decimals_and_value_text_only_when_asked(operator_client, make_tag, set_live):
    set_live(make_tag("Flow_PV", decimals=1), 12.345678)
    set_live(make_tag("Level_PV"), 72.4567)  # no decimals: automatic, as the HMI
    plain = operator_client.get("/api/tags?search=_PV").json()
    assert "value_text" not in plain[0] and plain[0]["value"] == 12.345678
    rows = {r["name"]: r for r in operator_client.get("/api/tags?search=_PV&formatted=true").json()}
    assert (rows["Flow_PV"]["value"], rows["Flow_PV"]["value_text"], rows["Flow_PV"]["decimals"]) == (
        12.345678, "12.3", 1)
    assert (rows["Level_PV"]["value_text"], rows["Level_PV"]["decimals"]) == ("72.46", None)
    assert operator_client.get("/api/tags?formatted=maybe").status_code == 400
