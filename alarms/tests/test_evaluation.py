"""Evaluation of value batches: limits, hysteresis, delays, quality, suppression, device types, races."""

import time

import pytest
import time_machine

from alarms.choices import AlarmEventType, AlarmState
from alarms.evaluation import AlarmEngine, engine
from alarms.models import Alarm, AlarmEvent
from alarms.runtime import EPOCH_KEY, RT_KEY, TIMERS_KEY
from alarms.tests.conftest import alarm_of
from scada.redis import get_redis
from tags.models import Tag

pytestmark = pytest.mark.django_db


def _tag(name):
    return Tag.objects.get(name=name)


def test_it_activates_a_high_alarm_and_journals_it(hi_alarm, temp, record):
    record(temp, 85.5)
    hi_alarm.refresh_from_db()
    assert hi_alarm.active and not hi_alarm.acked
    assert hi_alarm.state == AlarmState.ACTIVE_UNACKED
    assert hi_alarm.value == 85.5
    assert hi_alarm.message == "Reactor Temp High: 85.5 °C above 80 °C"
    event = AlarmEvent.objects.get(alarm=hi_alarm)
    assert (event.event, event.state_before, event.state_after) == ("activated", "normal", "active_unacked")
    assert (event.key, event.tag_name, event.machine_id, event.value) == ("reactor_temp_hi", "Reactor_Temp",
                                                                          "reactor-1", 85.5)


def test_it_writes_nothing_to_the_database_while_no_state_changes(hi_alarm, temp, record,
                                                                  django_assert_num_queries):
    record(temp, 50.0)  # the first batch loads the definitions
    with django_assert_num_queries(0):
        for v in (51.0, 60.0, 79.9, 55.0):
            record(temp, v)
    hi_alarm.refresh_from_db()
    assert hi_alarm.state == AlarmState.NORMAL and AlarmEvent.objects.count() == 0


def test_it_clears_only_past_the_deadband(hi_alarm, temp, record):
    record(temp, 81.0)
    record(temp, 78.5)  # inside the 2 °C deadband: still active
    hi_alarm.refresh_from_db()
    assert hi_alarm.active
    record(temp, 77.9)
    hi_alarm.refresh_from_db()
    assert not hi_alarm.active and hi_alarm.state == AlarmState.RTN_UNACKED
    assert list(AlarmEvent.objects.order_by("id").values_list("event", flat=True)) == ["activated", "cleared"]


def test_it_holds_a_limit_alarm_on_bad_quality_and_raises_the_bad_quality_alarm(temp, hi_alarm, make_definition,
                                                                               record):
    bad = make_definition(temp, "BAD", None, key="reactor_temp_bad", name="Reactor Temp BAD")
    record(temp, 85.0)
    record(temp, 20.0, quality="BAD", substatus="comm_failure")
    hi_alarm.refresh_from_db()
    bad_alarm = alarm_of(bad)
    assert hi_alarm.active  # a BAD value cannot clear a limit alarm
    assert bad_alarm.active and bad_alarm.message == "Reactor Temp BAD: Reactor_Temp quality BAD"
    record(temp, 20.0)
    hi_alarm.refresh_from_db()
    bad_alarm.refresh_from_db()
    assert not hi_alarm.active and not bad_alarm.active


def test_it_waits_for_the_on_delay_and_stamps_the_exact_moment(temp, make_definition, record, tick):
    d = make_definition(temp, "HI", 80.0, on_delay=5.0)
    t0 = time.time()
    record(temp, 90.0, ts=t0)
    assert not alarm_of(d).active
    assert tick(now=t0 + 4.9) == 0
    assert tick(now=t0 + 5.0) == 1
    alarm = alarm_of(d)
    assert alarm.active
    event = AlarmEvent.objects.get(alarm=alarm)
    assert abs(event.ts.timestamp() - (t0 + 5.0)) < 1e-3
    assert get_redis().zcard(TIMERS_KEY) == 0


def test_it_ends_a_delay_on_the_next_batch_too(temp, make_definition, record):
    d = make_definition(temp, "HI", 80.0, on_delay=5.0)
    t0 = time.time() - 10
    record(temp, 90.0, ts=t0)
    record(temp, 91.0, ts=t0 + 6)  # a later batch of the same tag: the delay already ran out at t0 + 5
    alarm = alarm_of(d)
    assert alarm.active
    assert abs(alarm.activated_at.timestamp() - (t0 + 5.0)) < 1e-3


def test_it_cancels_the_on_delay_when_the_condition_goes_back(temp, make_definition, record, tick):
    d = make_definition(temp, "HI", 80.0, on_delay=5.0)
    t0 = time.time()
    record(temp, 90.0, ts=t0)
    record(temp, 70.0, ts=t0 + 2)
    assert tick(now=t0 + 10) == 0
    assert not alarm_of(d).active and AlarmEvent.objects.count() == 0
    assert get_redis().zcard(TIMERS_KEY) == 0


def test_it_waits_for_the_off_delay(temp, make_definition, record, tick):
    d = make_definition(temp, "LO", 10.0, off_delay=3.0)
    t0 = time.time()
    record(temp, 5.0, ts=t0)
    assert alarm_of(d).active
    record(temp, 15.0, ts=t0 + 1)
    assert alarm_of(d).active
    assert tick(now=t0 + 3.9) == 0
    assert tick(now=t0 + 4.0) == 1
    assert not alarm_of(d).active


def test_it_evaluates_digital_alarms(make_tag, make_definition, record):
    trip = make_tag("Motor_Trip", datatype="BOOL")
    d = make_definition(trip, "EQ", 1.0, name="Motor tripped")
    record(trip, False)
    assert not alarm_of(d).active
    record(trip, True)
    assert alarm_of(d).active
    record(trip, False)
    assert not alarm_of(d).active


def test_it_suppresses_by_design_and_still_journals(temp, make_tag, make_definition, record):
    running = make_tag("Reactor_Running", datatype="BOOL")
    d = make_definition(temp, "LO", 20.0, suppress_condition="{tags.Reactor_Running} == false")
    record(running, False)
    record(temp, 5.0)
    alarm = alarm_of(d)
    assert alarm.active and alarm.suppressed and alarm.state == AlarmState.SUPPRESSED
    record(running, True)
    alarm.refresh_from_db()
    assert not alarm.suppressed and alarm.state == AlarmState.ACTIVE_UNACKED
    events = list(AlarmEvent.objects.filter(alarm=alarm).order_by("id").values_list("event", flat=True))
    assert events == ["suppressed", "activated", "unsuppressed"]


def test_it_gives_every_instance_of_a_device_type_the_member_alarm(pump_type, pumps, make_definition, record):
    member = pump_type.member_tags.get(member="BearingTempDE")
    d = make_definition(None, "HI", 75.0, device_type_tag=member, key="bearing_temp_high", name="Bearing Temp High",
                        message="Bearing temperature exceeds {setpoint}{unit}", category="mechanical")
    assert Alarm.objects.filter(definition=d).count() == 2
    t1 = pumps[0].tags.get(member="BearingTempDE")
    record(t1, 80.0)
    a1 = alarm_of(d, t1)
    assert a1.active and a1.message == "Bearing temperature exceeds 75°C"
    assert not alarm_of(d, pumps[1].tags.get(member="BearingTempDE")).active


def test_it_suppresses_a_device_alarm_by_a_member_of_the_same_instance(pump_type, pumps, make_definition, record):
    member = pump_type.member_tags.get(member="BearingTempDE")
    d = make_definition(None, "HI", 75.0, device_type_tag=member, suppress_condition="!{tags.Running}")
    t_run, t_temp = (pumps[0].tags.get(member=m) for m in ("Running", "BearingTempDE"))
    record(t_run, False)
    record(t_temp, 90.0)
    assert alarm_of(d, t_temp).state == AlarmState.SUPPRESSED
    record(pumps[1].tags.get(member="Running"), True)  # the other pump's Running changes nothing here
    assert alarm_of(d, t_temp).state == AlarmState.SUPPRESSED
    record(t_run, True)
    assert alarm_of(d, t_temp).state == AlarmState.ACTIVE_UNACKED


def test_it_lets_only_one_process_claim_a_transition(hi_alarm, temp):
    """Two evaluators (two worker processes) judge the same change: one transition, one journal row."""
    from tags.values import Change

    other = AlarmEngine()
    change = [Change(temp.pk, temp.name, 90.0, "GOOD", None, time.time(), None)]
    engine.process([])  # both have mirrored the alarm as inactive
    other.process([])
    engine._fetch([hi_alarm.pk])
    other._fetch([hi_alarm.pk])
    first = engine.process(change)
    second = other.process(change)
    assert len(first) == 1 and second == []  # the second saw the first's write, re-read it, found no change
    assert get_redis().hget(RT_KEY, hi_alarm.pk).startswith(b"10:1:")


def test_it_reseeds_runtime_state_from_the_database_after_redis_loses_it(hi_alarm, temp, record):
    record(temp, 90.0)
    r = get_redis()
    r.delete(RT_KEY, EPOCH_KEY)  # a Redis restart without persistence
    record(temp, 50.0)
    hi_alarm.refresh_from_db()
    assert not hi_alarm.active and hi_alarm.state == AlarmState.RTN_UNACKED


def test_it_reloads_definitions_when_one_changes(hi, hi_alarm, temp, record):
    from alarms.runtime import alarm_config_changed

    record(temp, 70.0)
    hi.setpoint = 60.0
    hi.save()
    alarm_config_changed()  # what the post_save receiver does on commit
    record(temp, 70.5)
    assert Alarm.objects.get(pk=hi_alarm.pk).active


def test_it_reloads_definitions_changed_after_redis_lost_the_configuration_version(hi, hi_alarm, temp, record):
    # A counter would start again at 1 after a Redis restart and could equal what the process cached; the
    # version token is random, so the first change after the restart still reloads.
    from alarms.runtime import alarm_config_changed

    record(temp, 70.0)  # definitions cached under the current version
    get_redis().flushdb()  # a Redis restart without persistence
    hi.setpoint = 60.0
    hi.save()
    alarm_config_changed()
    record(temp, 70.5)
    assert Alarm.objects.get(pk=hi_alarm.pk).active


def test_it_keeps_evaluating_a_shelved_alarm(hi_alarm, temp, record, supervisor):
    from alarms.services import alarm_shelve

    alarm_shelve(alarm=hi_alarm, user=supervisor, duration_seconds=600, reason="sensor replaced today")
    record(temp, 95.0)
    hi_alarm.refresh_from_db()
    assert hi_alarm.active and hi_alarm.state == AlarmState.SHELVED
    assert AlarmEvent.objects.filter(alarm=hi_alarm, event=AlarmEventType.ACTIVATED).count() == 1


def test_it_expires_shelving_on_its_own_and_shows_the_true_state(hi_alarm, temp, record, supervisor):
    from alarms.services import alarm_shelve, alarm_shelves_expire

    with time_machine.travel(time.time(), tick=False) as clock:
        alarm_shelve(alarm=hi_alarm, user=supervisor, duration_seconds=60, reason="nuisance")
        record(temp, 95.0)
        clock.shift(59)
        assert alarm_shelves_expire() == 0
        clock.shift(1)
        assert alarm_shelves_expire() == 1
    hi_alarm.refresh_from_db()
    assert hi_alarm.state == AlarmState.ACTIVE_UNACKED and hi_alarm.shelved_until is None
    expired = AlarmEvent.objects.get(alarm=hi_alarm, event=AlarmEventType.SHELVE_EXPIRED)
    assert expired.state_before == AlarmState.SHELVED and expired.username == ""


def test_it_loads_the_demo_alarms_and_the_simulated_setpoint_drives_them(record, tick):
    """The demo loaders in order (plant tags, then alarms); a high reactor temperature raises HI then HIHI."""
    from alarms.demo import load_alarms
    from tags.demo import load_plant

    load_plant()
    assert "5 definitions created" in load_alarms()
    assert "0 definitions created" in load_alarms()  # idempotent
    engine.reset()
    temp = _tag("Reactor_Temp")
    t0 = time.time()
    record(temp, 90.0, ts=t0)
    tick(now=t0 + 2.0)  # the HI on-delay
    record(temp, 97.0, ts=t0 + 3)
    states = dict(Alarm.objects.filter(tag=temp).values_list("definition__key", "state"))
    assert states == {"reactor_temp_hi": "active_unacked", "reactor_temp_hihi": "active_unacked",
                      "reactor_temp_bad": "normal"}
    assert Alarm.objects.filter(definition__key="bearing_temp_high").count() == 2
    stopped = Alarm.objects.get(definition__key="pump_speed_low", tag__name="pump-02.Speed")
    record(_tag("pump-02.Running"), False)
    record(_tag("pump-02.Speed"), 0.5)
    stopped.refresh_from_db()
    assert stopped.suppressed and stopped.state == AlarmState.SUPPRESSED
