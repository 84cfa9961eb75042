"""Fixtures for the tags app: a site, machines, tags of each datatype, live values (fake PLC: tests/fixtures.py)."""

import time

import pytest

from scada.roles import Role
from tags.live import LiveValue, live_set_many
from tags.models import DeviceCommand, DeviceType, DeviceTypeTag, Machine, Site, Tag


@pytest.fixture
def site(db):
    return Site.objects.create(site_id="plant-a", name="Plant A")


@pytest.fixture
def machine(site):
    return Machine.objects.create(machine_id="machine_001", name="Reactor line", site=site)


@pytest.fixture
def make_tag(machine):
    def make(name, datatype="REAL", **kw):
        kw.setdefault("machine", machine)
        return Tag.objects.create(name=name, datatype=datatype, **kw)

    return make


@pytest.fixture
def temp_sensor(make_tag):
    return make_tag("Temperature_Sensor_01", description="Main reactor temperature sensor", unit="°C",
                    min_value=0, max_value=150)


@pytest.fixture
def setpoint(make_tag):
    """A writable REAL setpoint 0–150 °C that a Supervisor may write (the default write role)."""
    return make_tag("Setpoint_Temperature", unit="°C", min_value=0, max_value=150, is_writable=True)


@pytest.fixture
def set_live():
    def put(tag, value, quality="GOOD", ts=None, substatus=None):
        live_set_many({tag.pk: LiveValue(value, quality, substatus, ts if ts is not None else time.time())})

    return put


@pytest.fixture
def pump_type(db):
    dt = DeviceType.objects.create(type_id="pump.centrifugal", version="1.2.0", name="Centrifugal pump")
    DeviceTypeTag.objects.create(device_type=dt, member="Running", datatype="BOOL")
    DeviceTypeTag.objects.create(device_type=dt, member="Speed", datatype="REAL", unit="rpm", min_value=0,
                                 max_value=3000)
    DeviceTypeTag.objects.create(device_type=dt, member="SpeedSetpoint", datatype="REAL", unit="rpm", min_value=0,
                                 max_value=3000, is_writable=True, write_role=Role.OPERATOR)
    DeviceCommand.objects.create(device_type=dt, command_id="stop", preconditions=[
        {"condition": "{tags.Running}", "reason": "Pump is not running"}])
    return dt
