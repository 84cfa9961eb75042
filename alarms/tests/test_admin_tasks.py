"""Django admin for alarm definitions (Engineer), and the timer task: delays, shelve expiry, deferred rows."""

import time

import orjson
import pytest
from django.test import Client

from accounts.models import AuditRecord
from alarms.choices import AlarmState
from alarms.evaluation import engine, unapplied_drain
from alarms.models import Alarm, AlarmDefinition, AlarmEvent
from alarms.runtime import UNAPPLIED_KEY
from alarms.tasks import alarms_timers_task
from scada.redis import get_redis

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(engineer):
    client = Client()
    client.force_login(engineer)
    return client


@pytest.mark.parametrize("page", ["alarmdefinition", "alarm", "alarmevent"])
def test_it_lets_an_engineer_open_each_page(web, page, hi_alarm):
    assert web.get(f"/admin/alarms/{page}/").status_code == 200


def test_it_keeps_operators_out(operator):
    client = Client()
    client.force_login(operator)
    assert client.get("/admin/alarms/alarmdefinition/").status_code == 302


def test_it_creates_a_definition_with_its_alarms_and_an_audit_record(web, temp):
    r = web.post("/admin/alarms/alarmdefinition/add/", {
        "key": "reactor_temp_hihi", "name": "Reactor Temp High-High", "enabled": "on", "tag": temp.pk,
        "kind": "HIHI", "setpoint": "95", "deadband": "0", "on_delay": "0", "off_delay": "0", "priority": "critical",
        "category": "safety", "message": "", "reason_codes": '["checked"]', "max_shelve_seconds": "3600",
        "suppress_condition": "",
    })
    assert r.status_code == 302, r.content.decode()[-3000:]
    d = AlarmDefinition.objects.get(key="reactor_temp_hihi")
    assert Alarm.objects.filter(definition=d, tag=temp).exists()
    audit = AuditRecord.objects.get(action="alarm_definition.create")
    assert audit.username == "erin" and audit.new_value["setpoint"] == 95.0


def test_it_refuses_a_definition_without_a_setpoint_or_with_a_bad_condition(web, temp):
    r = web.post("/admin/alarms/alarmdefinition/add/", {
        "key": "x", "name": "X", "tag": temp.pk, "kind": "HI", "setpoint": "", "deadband": "0", "on_delay": "0",
        "off_delay": "0", "priority": "low", "category": "process", "reason_codes": "[]",
        "max_shelve_seconds": "60", "suppress_condition": "{tags.A} ==",
    })
    assert r.status_code == 200
    body = r.content.decode()
    assert "A setpoint is needed" in body and "Unexpected end of expression" in body
    assert not AlarmDefinition.objects.exists()


def test_it_refuses_both_or_neither_target(temp, pump_type):
    from django.core.exceptions import ValidationError

    member = pump_type.member_tags.get(member="BearingTempDE")
    for tag, dtt in ((temp, member), (None, None)):
        with pytest.raises(ValidationError, match="either a tag or a device type member"):
            AlarmDefinition(key="x", name="X", tag=tag, device_type_tag=dtt, kind="HI", setpoint=1).full_clean()


def test_it_takes_alarms_out_of_service_from_the_admin(web, hi_alarm):
    r = web.post("/admin/alarms/alarm/", {"action": "take_out_of_service", "_selected_action": [hi_alarm.pk]})
    assert r.status_code == 302
    hi_alarm.refresh_from_db()
    assert hi_alarm.state == AlarmState.OUT_OF_SERVICE and hi_alarm.oos_by == "erin"
    assert AuditRecord.objects.filter(action="alarm.remove_from_service", username="erin").count() == 1


def test_the_timer_task_ends_delays_and_expired_shelving(temp, make_definition, record, supervisor):
    from alarms.services import alarm_shelve

    d = make_definition(temp, "HI", 80.0, on_delay=0.2)
    alarm = Alarm.objects.get(definition=d)
    alarm_shelve(alarm=alarm, user=supervisor, duration_seconds=1, reason="test")
    record(temp, 90.0)
    time.sleep(1.1)
    result = alarms_timers_task()
    assert result == {"delays": 1, "shelves_expired": 1, "deferred_applied": 0}
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACTIVE_UNACKED
    assert alarms_timers_task() == {"delays": 0, "shelves_expired": 0, "deferred_applied": 0}  # idempotent


def test_it_journals_transitions_kept_during_a_database_outage(hi_alarm):
    """What evaluation keeps in Redis when it cannot write the journal is applied later, once."""
    engine.process([])
    ts = time.time()
    get_redis().rpush(UNAPPLIED_KEY, orjson.dumps([hi_alarm.pk, 1, True, False, "activated", ts, 91.0, "GOOD"]))
    assert unapplied_drain() == 1
    assert unapplied_drain() == 0
    hi_alarm.refresh_from_db()
    assert hi_alarm.active and hi_alarm.gen == 1 and hi_alarm.value == 91.0
    assert AlarmEvent.objects.filter(alarm=hi_alarm, event="activated").count() == 1
