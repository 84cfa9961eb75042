"""Fixtures for the devices app's tests: the seed's demo site, its centrifugal pump type, two pumps, live values."""

import pytest

from scada.roles import Role
from tags.models import DeviceCommand, DeviceType, DeviceTypeTag, Site, Tag
from tags.services import machine_create_from_type
from tags.values import Sample, tag_values_record

TS = 1771410600.0  # 2026-02-18T10:30:00Z, the seed's example time
BASE = "/api/sites/demo-site/devices"


@pytest.fixture
def demo_site(db):
    return Site.objects.create(site_id="demo-site", name="Demo site")


@pytest.fixture
def centrifugal(db):
    """The seed's pump type: status members, measured values, an Operator setpoint, commands."""
    dt = DeviceType.objects.create(type_id="consystence.pump.centrifugal", version="1.2.0", name="Centrifugal pump")
    members = [
        ("Running", "BOOL", "", {}),
        ("Faulted", "BOOL", "", {}),
        ("Speed", "REAL", "RPM", {"min_value": 0, "max_value": 3000}),
        ("SpeedSetpoint", "REAL", "RPM", {"min_value": 0, "max_value": 3000, "is_writable": True,
                                          "write_role": Role.OPERATOR}),
        ("Current", "REAL", "A", {}),
        ("BearingTempDE", "REAL", "°C", {}),
        ("BearingTempNDE", "REAL", "°C", {}),
        ("StartCmd", "BOOL", "", {"is_writable": True, "write_role": Role.OPERATOR}),
        ("StopCmd", "BOOL", "", {"is_writable": True, "write_role": Role.OPERATOR}),
        ("Mode", "STRING", "", {"is_writable": True}),  # a Supervisor tag (the default write role)
    ]
    for member, datatype, unit, extra in members:
        DeviceTypeTag.objects.create(device_type=dt, member=member, datatype=datatype, unit=unit, **extra)
    DeviceCommand.objects.create(
        device_type=dt, command_id="start", name="Start",
        preconditions=[{"condition": "!{tags.Running}", "reason": "Pump is already running"},
                       {"condition": "!{tags.Faulted}", "reason": "Pump is faulted"}],
        actions=[{"write": "StartCmd", "value": True}])
    DeviceCommand.objects.create(
        device_type=dt, command_id="stop", name="Stop",
        preconditions=[{"condition": "{tags.Running}", "reason": "Pump is not running"}],
        actions=[{"write": "StopCmd", "value": True}])
    DeviceCommand.objects.create(
        device_type=dt, command_id="set_speed", name="Set speed",
        parameters={"speed": {"type": "REAL", "min": 0, "max": 3000}},
        preconditions=[{"condition": "!{tags.Faulted}", "reason": "Pump is faulted"}],
        actions=[{"write": "SpeedSetpoint", "value": "{params.speed}"}])
    DeviceCommand.objects.create(
        device_type=dt, command_id="set_mode", name="Set mode", min_role=Role.SUPERVISOR,
        parameters={"mode": {"type": "STRING", "choices": ["auto", "manual"]}},
        actions=[{"write": "Mode", "value": "{params.mode}"}])
    return dt


@pytest.fixture
def pump1(demo_site, centrifugal):
    return machine_create_from_type(machine_id="pump-01", name="Pump 1", device_type=centrifugal, site=demo_site,
                                    location="Sump Room North", process_id="demo-pump-station")


@pytest.fixture
def pump2(demo_site, centrifugal):
    return machine_create_from_type(machine_id="pump-02", name="Pump 2", device_type=centrifugal, site=demo_site,
                                    location="Sump Room North", process_id="demo-pump-station")


@pytest.fixture
def record():
    """record(machine, Member=value, ...) puts live values in place through the one values entry."""

    def put(machine, quality="GOOD", ts=TS, substatus=None, **values):
        tags = {t.member: t for t in Tag.objects.filter(machine=machine)}
        tag_values_record(samples=[Sample(tag_id=tags[m].pk, value=v, quality=quality, substatus=substatus, ts=ts)
                                   for m, v in values.items()])

    return put


def error_of(response, status):
    """The body of a seed 004 error answer, after checking its status and its {"error": {...}} shape."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]
