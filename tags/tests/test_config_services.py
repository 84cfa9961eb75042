"""Configuration services: machines from device types, tag create/update/delete, bulk activation; the demo."""

import pytest

from accounts.models import AuditRecord
from scada.errors import BadRequest, Conflict
from scada.roles import Role
from tags.live import live_get_many
from tags.models import DeviceCommand, Machine, Tag
from tags.services import (
    machine_create_from_type,
    machine_sync_from_type,
    tag_create,
    tag_update,
    tags_set_active,
)
from tags.values import CONFIG_VERSION_KEY

pytestmark = pytest.mark.django_db


def test_it_creates_member_tags_named_machine_dot_member(pump_type, site, engineer):
    machine = machine_create_from_type(machine_id="pump-01", device_type=pump_type, site=site, name="Pump 1",
                                       location="Sump Room North", user=engineer)
    tags = {t.member: t for t in machine.tags.all()}
    assert set(tags) == {"Running", "Speed", "SpeedSetpoint"}
    sp = tags["SpeedSetpoint"]
    assert (sp.name, sp.unit, sp.max_value, sp.is_writable, sp.write_role) == (
        "pump-01.SpeedSetpoint", "rpm", 3000, True, Role.OPERATOR)
    assert machine.device_type == pump_type and machine.location == "Sump Room North"
    record = AuditRecord.objects.get(action="machine.create")
    assert record.object_id == "pump-01" and "pump-01.Speed" in record.new_value["tags"]


def test_it_refuses_a_second_machine_with_the_same_id(pump_type, site):
    machine_create_from_type(machine_id="pump-01", device_type=pump_type, site=site)
    with pytest.raises(Conflict, match="Machine 'pump-01' already exists"):
        machine_create_from_type(machine_id="pump-01", device_type=pump_type, site=site)


def test_it_refuses_a_member_tag_name_already_taken(pump_type, site, machine):
    Tag.objects.create(machine=machine, name="pump-09.Speed", datatype="REAL")
    with pytest.raises(Conflict, match="pump-09.Speed"):
        machine_create_from_type(machine_id="pump-09", device_type=pump_type, site=site)
    assert not Machine.objects.filter(machine_id="pump-09").exists()


def test_it_adds_members_a_type_gained_later(pump_type, site):
    machine = machine_create_from_type(machine_id="pump-01", device_type=pump_type, site=site)
    pump_type.member_tags.create(member="Current", datatype="REAL", unit="A")
    added = machine_sync_from_type(machine=machine)
    assert [t.name for t in added] == ["pump-01.Current"]
    assert machine_sync_from_type(machine=machine) == []


def test_it_tells_other_processes_the_configuration_changed_on_commit(machine, engineer,
                                                                     django_capture_on_commit_callbacks):
    from scada.redis import get_redis

    before = get_redis().get(CONFIG_VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        tag_create(user=engineer, machine_id="machine_001", name="X", datatype="REAL")
        during = get_redis().get(CONFIG_VERSION_KEY)
    after = get_redis().get(CONFIG_VERSION_KEY)
    # At once (so this process drops its caches), and again on commit (rows another process re-read before
    # the commit were filed under the early version and are dropped with it).
    assert len({before, during, after}) == 3 and during is not None and after is not None


def test_it_creates_nothing_for_a_bad_definition(machine, engineer):
    with pytest.raises(BadRequest):
        tag_create(user=engineer, machine_id="machine_001", name="X", datatype="NOPE")
    assert not Tag.objects.exists() and not AuditRecord.objects.exists()


def test_it_records_a_value_for_a_tag_created_after_the_cache_was_filled(machine, engineer, supervisor,
                                                                        django_capture_on_commit_callbacks):
    from tags.services import tag_write

    first = Tag.objects.create(machine=machine, name="First", datatype="REAL", is_writable=True)
    tag_write(tag=first, value=1.0, user=supervisor)  # fills the per-process tag cache
    with django_capture_on_commit_callbacks(execute=True):
        second = tag_create(user=engineer, machine_id="machine_001", name="Second", datatype="REAL",
                            is_writable=True)
    tag_write(tag=second, value=2.0, user=supervisor)
    assert live_get_many([second.pk])[second.pk].value == 2.0


def test_it_audits_only_real_changes_of_an_update(temp_sensor, engineer):
    tag_update(user=engineer, tag=temp_sensor, data={"unit": "°C", "description": temp_sensor.description})
    assert not AuditRecord.objects.filter(action="tag.update").exists()
    tag_update(user=engineer, tag=temp_sensor, data={"write_role": "admin"})
    record = AuditRecord.objects.get(action="tag.update")
    assert record.old_value == {"write_role": "supervisor"} and record.new_value == {"write_role": "admin"}


def test_it_activates_and_deactivates_in_bulk_with_one_record_per_tag(make_tag, engineer):
    tags = [make_tag(f"T{i}") for i in range(3)]
    make_tag("Already_Off", is_active=False)
    assert tags_set_active(user=engineer, tags=tags, is_active=False) == 3
    assert Tag.objects.filter(is_active=False).count() == 4
    assert AuditRecord.objects.filter(action="tag.update").count() == 3
    assert tags_set_active(user=engineer, tags=tags, is_active=False) == 0


def test_it_loads_the_demo_plant_idempotently(db):
    from tags.demo import load_plant

    load_plant()
    summary = load_plant()
    assert summary.startswith("0 machines and 0 tags created, 0 initial values")
    pump = Machine.objects.get(machine_id="pump-01")
    assert (pump.site.site_id, str(pump.device_type), pump.location) == (
        "demo-site", "pump.centrifugal 1.2.0", "Sump Room North")
    assert {"Running", "Faulted", "Speed", "SpeedSetpoint", "Current", "BearingTempDE", "BearingTempNDE"} <= set(
        pump.tags.values_list("member", flat=True))
    assert Tag.objects.get(name="pump-02.SpeedSetpoint").write_role == Role.OPERATOR
    sp = Tag.objects.get(name="Reactor_Temp_SP")
    assert (sp.is_writable, sp.write_role, sp.max_value) == (True, Role.SUPERVISOR, 150)
    assert Tag.objects.get(name="Status_Text").datatype == "STRING"
    start = DeviceCommand.objects.get(device_type=pump.device_type, command_id="start")
    assert [p["condition"] for p in start.preconditions] == ["!{tags.Running}", "!{tags.Faulted}"]
    set_speed = DeviceCommand.objects.get(device_type=pump.device_type, command_id="set_speed")
    assert set_speed.parameters["speed"]["max"] == 3000
    running = Tag.objects.get(name="pump-01.Running")
    assert live_get_many([running.pk])[running.pk].value is True


def test_it_tells_tag_deleted_receivers_after_commit_and_survives_a_failing_one(
        temp_sensor, admin_user, django_capture_on_commit_callbacks):
    from tags.services import tag_delete
    from tags.signals import tag_deleted

    seen = []

    def broken(sender, **kwargs):
        raise RuntimeError("receiver down")

    def record(sender, *, tag_id, name, **kwargs):
        seen.append((tag_id, name))

    tag_deleted.connect(broken, dispatch_uid="test-broken")  # connected first: must not stop the next one
    tag_deleted.connect(record, dispatch_uid="test-record")
    try:
        tag_id = temp_sensor.pk
        with django_capture_on_commit_callbacks(execute=True):
            tag_delete(user=admin_user, tag=temp_sensor)
            assert seen == []
        assert seen == [(tag_id, "Temperature_Sensor_01")]
    finally:
        tag_deleted.disconnect(dispatch_uid="test-broken")
        tag_deleted.disconnect(dispatch_uid="test-record")
