"""People acting on alarms: acknowledge, shelve, unshelve, out of service — journal rows and audit records."""

import pytest

from accounts.models import AuditRecord
from alarms.choices import AlarmEventType, AlarmState
from alarms.models import Alarm, AlarmDefinition, AlarmEvent
from alarms.services import (
    _conditional_update,
    alarm_acknowledge,
    alarm_remove_from_service,
    alarm_return_to_service,
    alarm_shelve,
    alarm_unshelve,
)
from scada.errors import BadRequest, Conflict, PermissionDenied

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(hi_alarm, temp, record):
    record(temp, 90.0)
    hi_alarm.refresh_from_db()
    return hi_alarm


def test_it_acknowledges_without_changing_active(active, operator):
    alarm = alarm_acknowledge(alarm=active, user=operator, comment="seen")
    alarm.refresh_from_db()
    assert alarm.active and alarm.acked and alarm.state == AlarmState.ACTIVE_ACKED
    assert alarm.acked_by == "olivia"
    event = AlarmEvent.objects.get(alarm=alarm, event=AlarmEventType.ACKNOWLEDGED)
    assert (event.username, event.reason, event.state_before, event.state_after) == (
        "olivia", "seen", "active_unacked", "active_acked")
    audit = AuditRecord.objects.get(action="alarm.acknowledge")
    assert (audit.username, audit.object_id, audit.old_value["state"], audit.new_value["state"]) == (
        "olivia", str(alarm.pk), "active_unacked", "active_acked")


def test_it_refuses_to_acknowledge_twice(active, operator):
    alarm_acknowledge(alarm=active, user=operator)
    with pytest.raises(Conflict):
        alarm_acknowledge(alarm=active, user=operator)
    assert AlarmEvent.objects.filter(event=AlarmEventType.ACKNOWLEDGED).count() == 1


def test_it_refuses_to_acknowledge_a_normal_alarm(hi_alarm, operator):
    with pytest.raises(Conflict):
        alarm_acknowledge(alarm=hi_alarm, user=operator)
    assert not AuditRecord.objects.filter(action="alarm.acknowledge").exists()


def test_it_acknowledges_a_returned_alarm_to_normal(active, temp, record, operator):
    record(temp, 10.0)
    active.refresh_from_db()
    assert active.state == AlarmState.RTN_UNACKED
    alarm = alarm_acknowledge(alarm=active, user=operator)
    assert alarm.state == AlarmState.NORMAL


def test_it_requires_a_known_reason_code_when_the_definition_asks(active, operator):
    d = active.definition
    d.ack_requires_reason, d.reason_codes = True, ["checked", "maintenance"]
    d.save()
    with pytest.raises(BadRequest, match="reason code is required"):
        alarm_acknowledge(alarm=active, user=operator)
    with pytest.raises(BadRequest, match="Unknown reason code 'bogus'"):
        alarm_acknowledge(alarm=active, user=operator, reason_code="bogus")
    active.refresh_from_db()
    assert not active.acked
    alarm = alarm_acknowledge(alarm=active, user=operator, reason_code="checked")
    assert alarm.ack_reason == "checked"


def test_it_shelves_within_the_maximum_with_a_reason(active, supervisor):
    with pytest.raises(BadRequest, match="at most 28800"):
        alarm_shelve(alarm=active, user=supervisor, duration_seconds=28801, reason="x")
    alarm = alarm_shelve(alarm=active, user=supervisor, duration_seconds=600, reason="transmitter drift")
    assert alarm.state == AlarmState.SHELVED and alarm.shelved_by == "sam"
    assert AuditRecord.objects.get(action="alarm.shelve").reason == "transmitter drift"
    with pytest.raises(Conflict, match="already shelved"):
        alarm_shelve(alarm=active, user=supervisor, duration_seconds=60, reason="again")


def test_it_requires_a_shelve_reason_where_the_definition_says_so(active, supervisor):
    AlarmDefinition.objects.filter(pk=active.definition_id).update(shelve_requires_reason=True)
    active.refresh_from_db()
    with pytest.raises(BadRequest, match="reason is required to shelve this alarm"):
        alarm_shelve(alarm=active, user=supervisor, duration_seconds=60, reason="  ")
    active.refresh_from_db()
    assert active.shelved_until is None


def test_it_shelves_without_a_reason_where_the_definition_does_not_ask_for_one(active, supervisor):
    alarm = alarm_shelve(alarm=active, user=supervisor, duration_seconds=600)
    assert alarm.state == AlarmState.SHELVED and alarm.shelve_reason == ""
    assert AuditRecord.objects.get(action="alarm.shelve").new_value["duration_seconds"] == 600


def test_it_lets_only_a_supervisor_shelve(active, operator):
    with pytest.raises(PermissionDenied):
        alarm_shelve(alarm=active, user=operator, duration_seconds=60, reason="x")
    active.refresh_from_db()
    assert active.shelved_until is None


def test_it_unshelves_to_the_true_state(active, supervisor):
    alarm_shelve(alarm=active, user=supervisor, duration_seconds=600, reason="x")
    alarm = alarm_unshelve(alarm=active, user=supervisor, reason="fixed")
    assert alarm.state == AlarmState.ACTIVE_UNACKED and alarm.shelved_until is None
    assert AuditRecord.objects.filter(action="alarm.unshelve").count() == 1
    with pytest.raises(Conflict, match="not shelved"):
        alarm_unshelve(alarm=active, user=supervisor)


def test_it_takes_an_alarm_out_of_service_and_back(active, engineer, temp, record):
    alarm = alarm_remove_from_service(alarm=active, user=engineer, reason="instrument removed for calibration")
    assert alarm.state == AlarmState.OUT_OF_SERVICE
    record(temp, 10.0)  # still evaluated and journaled
    alarm.refresh_from_db()
    assert not alarm.active and alarm.state == AlarmState.OUT_OF_SERVICE
    alarm = alarm_return_to_service(alarm=alarm, user=engineer)
    assert alarm.state == AlarmState.RTN_UNACKED
    assert [r.action for r in AuditRecord.objects.order_by("id")] == ["alarm.remove_from_service",
                                                                      "alarm.return_to_service"]
    events = list(AlarmEvent.objects.filter(alarm=alarm).order_by("id").values_list("event", flat=True))
    assert events == ["activated", "removed_from_service", "cleared", "returned_to_service"]


def test_it_refuses_out_of_service_below_engineer(active, supervisor):
    with pytest.raises(PermissionDenied):
        alarm_remove_from_service(alarm=active, user=supervisor, reason="x")


def test_it_refuses_a_stale_conditional_update(active):
    stale = Alarm.objects.select_related("definition", "tag__machine").get(pk=active.pk)
    Alarm.objects.filter(pk=active.pk).update(seq=stale.seq + 1)  # another process got there first
    assert _conditional_update(stale, {"acked": True}) is False
    active.refresh_from_db()
    assert not active.acked


@pytest.mark.django_db(transaction=True)
def test_it_loses_no_update_when_acknowledgements_race_evaluation(hi_alarm, temp, operator):
    """Two threads (as a web request and a driver worker would): values flip the alarm while an operator keeps
    acknowledging. Every change is a conditional UPDATE, so each bumps `seq` once and writes one journal row."""
    import threading
    import time

    from django.db import connection

    from alarms.lifecycle import display_state
    from tags.values import Sample, tag_values_record

    done = threading.Event()
    acks = {"ok": 0, "conflict": 0}

    def evaluate():
        try:
            for i in range(40):
                tag_values_record(samples=[Sample(tag_id=temp.pk, value=90.0 if i % 2 == 0 else 10.0,
                                                  ts=time.time())])
        finally:
            done.set()
            connection.close()

    def acknowledge():
        try:
            while not done.is_set():
                try:
                    alarm_acknowledge(alarm=Alarm.objects.select_related("definition", "tag__machine").get(
                        pk=hi_alarm.pk), user=operator)
                    acks["ok"] += 1
                except Conflict:
                    acks["conflict"] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate), threading.Thread(target=acknowledge)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    alarm = Alarm.objects.get(pk=hi_alarm.pk)
    events = list(AlarmEvent.objects.filter(alarm=alarm).values_list("event", flat=True))
    assert events.count("activated") == 20 and events.count("cleared") == 20
    assert events.count("acknowledged") == acks["ok"] > 0
    assert alarm.seq == len(events)  # one conditional update per journal row: nothing overwritten
    assert alarm.state == display_state(active=alarm.active, acked=alarm.acked, suppressed=alarm.suppressed,
                                        shelved=False, out_of_service=False)
    assert not alarm.active


def test_the_message_shows_value_and_setpoint_with_the_tags_decimals(make_tag, make_definition, record):
    tag = make_tag("Jacket_Temp", decimals=1)
    definition = make_definition(tag=tag, kind="HI", setpoint=80.0, message="{value} {unit} above {setpoint} {unit}")
    record(tag, 91.23456789)
    alarm = Alarm.objects.get(definition=definition)
    assert alarm.message == "91.2 °C above 80.0 °C"
    assert AlarmEvent.objects.filter(alarm=alarm).latest("ts").message == "91.2 °C above 80.0 °C"
