"""Django admin for tags and devices, as an Engineer: pages load, machines come from types, changes are audited."""

import json

import pytest
from django.test import Client

from accounts.models import AuditRecord
from tags.models import DeviceType, Machine, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(engineer):
    client = Client()
    client.force_login(engineer)
    return client


@pytest.mark.parametrize("page", ["site", "devicetype", "machine", "tag"])
def test_it_lets_an_engineer_use_each_page(web, page, temp_sensor, pump_type):
    assert web.get(f"/admin/tags/{page}/").status_code == 200
    assert web.get(f"/admin/tags/{page}/add/").status_code == 200


def test_it_keeps_operators_out(operator):
    client = Client()
    client.force_login(operator)
    assert client.get("/admin/tags/tag/").status_code == 302


def test_it_shows_live_values_in_the_tag_list(web, temp_sensor, set_live):
    set_live(temp_sensor, 85.7)
    body = web.get("/admin/tags/tag/").content.decode()
    assert "85.7" in body and "GOOD" in body


def test_it_filters_tags_by_quality_and_searches(web, make_tag, set_live):
    set_live(make_tag("Good_One", description="jacket"), 1.0)
    set_live(make_tag("Bad_One"), 0.0, quality="BAD")
    body = web.get("/admin/tags/tag/?quality=BAD").content.decode()
    assert "Bad_One" in body and "Good_One" not in body
    body = web.get("/admin/tags/tag/?q=jacket").content.decode()
    assert "Good_One" in body and "Bad_One" not in body


def test_it_creates_a_machine_from_a_type_with_its_member_tags(web, pump_type, site):
    r = web.post("/admin/tags/machine/add/", {
        "machine_id": "pump-07", "name": "Pump 7", "site": site.pk, "device_type": pump_type.pk, "location": "",
        "process_id": "", "status": "unknown",
        "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0", "tags-MIN_NUM_FORMS": "0", "tags-MAX_NUM_FORMS": "1000",
    })
    assert r.status_code == 302, r.content.decode()[:2000]
    assert set(Tag.objects.filter(machine__machine_id="pump-07").values_list("name", flat=True)) == {
        "pump-07.Running", "pump-07.Speed", "pump-07.SpeedSetpoint"}
    assert AuditRecord.objects.get(action="machine.create").username == "erin"


def test_it_refuses_a_machine_whose_member_tag_names_are_taken(web, pump_type, site, machine):
    Tag.objects.create(machine=machine, name="pump-07.Speed", datatype="REAL")
    r = web.post("/admin/tags/machine/add/", {
        "machine_id": "pump-07", "site": site.pk, "device_type": pump_type.pk, "status": "unknown",
        "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0", "tags-MIN_NUM_FORMS": "0", "tags-MAX_NUM_FORMS": "1000",
    })
    assert r.status_code == 200 and "already exists" in r.content.decode()
    assert not Machine.objects.filter(machine_id="pump-07").exists()


def test_it_audits_a_tag_change_with_old_and_new(web, temp_sensor):
    r = web.post(f"/admin/tags/tag/{temp_sensor.pk}/change/", {
        "machine": temp_sensor.machine_id, "name": temp_sensor.name, "member": "", "datatype": "REAL",
        "description": "new text", "unit": "°C", "min_value": "0", "max_value": "200", "deadband": "0",
        "is_writable": "on", "write_role": "20", "is_active": "on",
    })
    assert r.status_code == 302, r.content.decode()[:2000]
    temp_sensor.refresh_from_db()
    assert temp_sensor.max_value == 200 and temp_sensor.is_writable
    record = AuditRecord.objects.get(action="tag.update")
    assert record.object_id == "Temperature_Sensor_01" and record.username == "erin"
    assert record.old_value["max_value"] == 150.0 and record.new_value["max_value"] == 200.0


def test_it_deactivates_tags_in_bulk_from_the_list(web, make_tag):
    tags = [make_tag(f"T{i}") for i in range(3)]
    r = web.post("/admin/tags/tag/", {"action": "deactivate", "_selected_action": [t.pk for t in tags[:2]]})
    assert r.status_code == 302
    assert list(Tag.objects.filter(is_active=False).values_list("name", flat=True)) == ["T0", "T1"]
    assert AuditRecord.objects.filter(action="tag.update").count() == 2


def test_it_audits_device_type_inline_changes(web, pump_type):
    members = list(pump_type.member_tags.all())
    commands = list(pump_type.commands.all())
    data = {"type_id": pump_type.type_id, "version": pump_type.version, "name": "Renamed pump", "description": "",
            "status_expression": "",
            "member_tags-TOTAL_FORMS": str(len(members) + 1), "member_tags-INITIAL_FORMS": str(len(members)),
            "member_tags-MIN_NUM_FORMS": "0", "member_tags-MAX_NUM_FORMS": "1000",
            "commands-TOTAL_FORMS": str(len(commands)), "commands-INITIAL_FORMS": str(len(commands)),
            "commands-MIN_NUM_FORMS": "0", "commands-MAX_NUM_FORMS": "1000"}
    for i, m in enumerate(members):
        data.update({f"member_tags-{i}-id": m.pk, f"member_tags-{i}-device_type": pump_type.pk,
                     f"member_tags-{i}-member": m.member, f"member_tags-{i}-datatype": m.datatype,
                     f"member_tags-{i}-unit": m.unit, f"member_tags-{i}-min_value": m.min_value or "",
                     f"member_tags-{i}-max_value": m.max_value or "", f"member_tags-{i}-deadband": "0",
                     f"member_tags-{i}-write_role": m.write_role, f"member_tags-{i}-description": ""})
        if m.is_writable:
            data[f"member_tags-{i}-is_writable"] = "on"
    n = len(members)
    data.update({f"member_tags-{n}-member": "Current", f"member_tags-{n}-datatype": "REAL",
                 f"member_tags-{n}-unit": "A", f"member_tags-{n}-deadband": "0", f"member_tags-{n}-write_role": "20",
                 f"member_tags-{n}-device_type": pump_type.pk})
    for i, c in enumerate(commands):
        data.update({f"commands-{i}-id": c.pk, f"commands-{i}-device_type": pump_type.pk,
                     f"commands-{i}-command_id": c.command_id, f"commands-{i}-name": c.name,
                     f"commands-{i}-min_role": c.min_role, f"commands-{i}-parameters": "{}",
                     f"commands-{i}-preconditions": json.dumps(c.preconditions),
                     f"commands-{i}-actions": "[]", f"commands-{i}-description": ""})
    r = web.post(f"/admin/tags/devicetype/{pump_type.pk}/change/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    assert DeviceType.objects.get(pk=pump_type.pk).member_tags.filter(member="Current").exists()
    records = AuditRecord.objects.filter(action="devicetype.update").order_by("id")
    assert records[0].new_value == {"name": "Renamed pump"}
    assert {"change": "added", "object": "pump.centrifugal.Current", "fields": None} in records[1].new_value["inline"]


def test_it_leaves_deleting_tags_to_admins(web, admin_user, temp_sensor):
    assert web.post(f"/admin/tags/tag/{temp_sensor.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Tag.objects.filter(pk=temp_sensor.pk).exists()
    admin = Client()
    admin.force_login(admin_user)
    assert admin.post(f"/admin/tags/tag/{temp_sensor.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Tag.objects.filter(pk=temp_sensor.pk).exists()
    assert AuditRecord.objects.get(action="tag.delete").username == "ada"
