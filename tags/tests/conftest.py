"""Fixtures for the tags app: a site, machines, tags of each datatype, live values, a fake PLC write router."""

import contextlib
import time

import pytest

from scada.roles import Role
from tags.live import LiveValue, live_set_many
from tags.models import DeviceCommand, DeviceType, DeviceTypeTag, Machine, Site, Tag
from tags.writers import DriverWriteError, DriverWriteOutcome, get_write_router, register_write_router


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


class FakePlcRouter:
    """Stands in for the drivers app at the edge: which tags a PLC feeds, and what the PLC answers."""

    def __init__(self, tag_ids, *, fail: str | None = None, unknown: bool = False, confirmed: bool = True):
        self.tag_ids, self.fail, self.unknown, self.confirmed = set(tag_ids), fail, unknown, confirmed
        self.writes = []

    def handles(self, tag_id):
        return tag_id in self.tag_ids

    def write(self, *, tag, value):
        from tags.values import Sample, tag_values_record

        if self.fail:
            raise DriverWriteError(self.fail, unknown_outcome=self.unknown)
        self.writes.append((tag.name, value))
        tag_values_record(samples=[Sample(tag_id=tag.pk, value=value)])
        return DriverWriteOutcome(confirmed=self.confirmed, readback=value)


@pytest.fixture
def plc_router():
    """plc_router(tags, fail=...) registers a fake PLC router for those tags; unregistered after the test."""
    made = []
    previous = get_write_router()

    def install(tags, **kw):
        router = FakePlcRouter([t.pk for t in tags], **kw)
        register_write_router(router)
        made.append(router)
        return router

    yield install
    register_write_router(previous)  # put the drivers app's router back for the tests that follow


@contextlib.contextmanager
def audit_insert_fails(action: str):
    """The audit trail refuses records of one action, for real: a PostgreSQL trigger raises on their INSERT.

    Stands for a full disk, a lost connection or a constraint the trail trips on, at the one point that matters.
    DDL outlives a transactional test's flush, so the trigger is dropped again on the way out.
    """
    import re

    from django.db import connection

    assert re.fullmatch(r"[a-z_.]+", action)  # a trigger argument is a literal: test constants only
    with connection.cursor() as cur:
        cur.execute("""
            CREATE OR REPLACE FUNCTION kiln_test_audit_fails() RETURNS trigger AS $$
            BEGIN
                IF NEW.action = TG_ARGV[0] THEN
                    RAISE EXCEPTION 'test: audit trail refuses %', NEW.action;
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""")
        cur.execute("DROP TRIGGER IF EXISTS kiln_test_audit_fails ON accounts_auditrecord")
        cur.execute("CREATE TRIGGER kiln_test_audit_fails BEFORE INSERT ON accounts_auditrecord FOR EACH ROW "
                    f"EXECUTE FUNCTION kiln_test_audit_fails('{action}')")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP TRIGGER IF EXISTS kiln_test_audit_fails ON accounts_auditrecord")
