"""Fixtures for the alarms app: a site, a reactor line, tags, definitions, and recording values the real way."""

import time

import pytest

from alarms.evaluation import alarms_tick, engine
from alarms.models import Alarm, AlarmDefinition
from alarms.services import alarm_instances_sync
from tags.models import DeviceType, DeviceTypeTag, Machine, Site, Tag
from tags.values import Sample, tag_values_record


@pytest.fixture(autouse=True)
def _fresh_engine(_clean_redis):
    """Redis is flushed per test; the per-process evaluator must forget what it mirrored from the last one."""
    engine.reset()
    yield
    engine.reset()


@pytest.fixture
def site(db):
    return Site.objects.create(site_id="plant-a", name="Plant A")


@pytest.fixture
def machine(site):
    return Machine.objects.create(machine_id="reactor-1", name="Reactor line", site=site)


@pytest.fixture
def make_tag(machine):
    def make(name, datatype="REAL", **kw):
        kw.setdefault("machine", machine)
        kw.setdefault("unit", "°C" if datatype == "REAL" else "")
        return Tag.objects.create(name=name, datatype=datatype, **kw)

    return make


@pytest.fixture
def temp(make_tag):
    return make_tag("Reactor_Temp")


@pytest.fixture
def make_definition():
    """Create a definition and its alarms, and make the evaluator reload (as the admin's save would)."""
    counter = {"n": 0}

    def make(tag=None, kind="HI", setpoint=80.0, **kw):
        counter["n"] += 1
        kw.setdefault("key", f"alarm_{counter['n']}")
        kw.setdefault("name", f"Alarm {counter['n']}")
        d = AlarmDefinition(tag=tag, kind=kind, setpoint=setpoint, **kw)
        d.full_clean()
        d.save()
        alarm_instances_sync()
        engine.reset()
        return d

    return make


@pytest.fixture
def hi(temp, make_definition):
    """Reactor_Temp HI at 80 °C, deadband 2, no delays."""
    return make_definition(temp, "HI", 80.0, key="reactor_temp_hi", name="Reactor Temp High", deadband=2.0)


@pytest.fixture
def hi_alarm(hi):
    return Alarm.objects.get(definition=hi)


@pytest.fixture
def record():
    """record(tag, value, quality="GOOD", ts=None): one batch through the one values service."""

    def rec(tag, value, quality="GOOD", ts=None, substatus=None):
        return tag_values_record(samples=[Sample(tag_id=tag.pk, value=value, quality=quality, substatus=substatus,
                                                 ts=ts if ts is not None else time.time())])

    return rec


@pytest.fixture
def tick():
    return alarms_tick


@pytest.fixture
def pump_type(db):
    dt = DeviceType.objects.create(type_id="pump.centrifugal", version="1.2.0", name="Centrifugal pump")
    DeviceTypeTag.objects.create(device_type=dt, member="Running", datatype="BOOL")
    DeviceTypeTag.objects.create(device_type=dt, member="BearingTempDE", datatype="REAL", unit="°C")
    return dt


@pytest.fixture
def pumps(site, pump_type):
    """Two instances of the pump type, each with its member tags."""
    out = []
    for mid in ("pump-01", "pump-02"):
        m = Machine.objects.create(machine_id=mid, name=mid, site=site, device_type=pump_type)
        for member in pump_type.member_tags.all():
            Tag.objects.create(machine=m, name=f"{mid}.{member.member}", member=member.member,
                               datatype=member.datatype, unit=member.unit)
        out.append(m)
    return out


def alarm_of(definition, tag=None) -> Alarm:
    qs = Alarm.objects.filter(definition=definition)
    if tag is not None:
        qs = qs.filter(tag=tag)
    return qs.get()
