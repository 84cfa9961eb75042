"""tags.services.tag_write: validation, roles, e-signatures, PLC routing, write tracking and audit."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from accounts.models import AuditRecord
from conftest import PASSWORD
from scada.errors import BadRequest, Conflict, PermissionDenied, Unprocessable
from scada.roles import Role
from tags.live import live_get_many
from tags.services import DriverWriteFailed, WriteResult, WriteUnavailable, tag_write

pytestmark = pytest.mark.django_db


def test_it_writes_a_value_tracks_it_and_audits_it(setpoint, supervisor, set_live):
    set_live(setpoint, 80.0)
    result = tag_write(tag=setpoint, value=92.3, user=supervisor)
    assert isinstance(result, WriteResult)
    assert (result.value, result.previous_value, result.quality, result.confirmed) == (92.3, 80.0, "GOOD", None)
    assert result.timestamp.tzinfo is not None
    setpoint.refresh_from_db()
    assert (setpoint.write_count, setpoint.last_write_by) == (1, "sam")
    assert setpoint.last_write_at is not None
    assert live_get_many([setpoint.pk])[setpoint.pk].value == 92.3
    record = AuditRecord.objects.get(pk=result.audit_id)
    assert (record.action, record.object_type, record.object_id, record.username) == (
        "tag.write", "tag", "Setpoint_Temperature", "sam")
    assert record.old_value == {"value": 80.0, "quality": "GOOD"}
    assert record.new_value["value"] == 92.3 and record.new_value["source"] == "api"


def test_it_refuses_a_tag_that_is_not_writable(temp_sensor, admin_user):
    with pytest.raises(PermissionDenied, match="^Tag 'Temperature_Sensor_01' is not writable$") as exc:
        tag_write(tag=temp_sensor, value=1.0, user=admin_user)
    assert exc.value.status_code == 403
    record = AuditRecord.objects.get()  # the refused attempt, and nothing else
    assert (record.action, record.object_id, record.new_value["status"]) == (
        "tag.write_refused", "Temperature_Sensor_01", 403)
    assert record.new_value["error"] == "Tag 'Temperature_Sensor_01' is not writable"


def test_it_refuses_a_role_below_the_tags_write_role(setpoint, operator, supervisor):
    with pytest.raises(PermissionDenied, match="requires the supervisor role"):
        tag_write(tag=setpoint, value=10.0, user=operator)
    assert tag_write(tag=setpoint, value=10.0, user=supervisor).value == 10.0


def test_it_lets_an_operator_write_an_operator_tag(make_tag, operator):
    sp = make_tag("SpeedSetpoint", is_writable=True, write_role=Role.OPERATOR)
    assert tag_write(tag=sp, value=1500, user=operator).value == 1500.0


@pytest.mark.parametrize(("value", "message"), [
    (250.0, "Value 250.0 exceeds maximum limit of 150.0 for tag 'Setpoint_Temperature'"),
    (-5, "Value -5.0 is below minimum limit of 0.0 for tag 'Setpoint_Temperature'"),
])
def test_it_refuses_values_outside_the_limits_with_the_seed_texts(setpoint, supervisor, value, message):
    with pytest.raises(Unprocessable) as exc:
        tag_write(tag=setpoint, value=value, user=supervisor)
    assert exc.value.detail == message and exc.value.status_code == 422
    setpoint.refresh_from_db()
    assert setpoint.write_count == 0


@pytest.mark.parametrize(("datatype", "value"), [
    ("REAL", "hot"), ("REAL", True), ("INT", 1.5), ("BOOL", 2), ("BOOL", "yes"), ("STRING", 42), ("REAL", None),
])
def test_it_refuses_a_wrong_type_with_422(make_tag, supervisor, datatype, value):
    tag = make_tag(f"T_{datatype}", datatype=datatype, is_writable=True)
    with pytest.raises(Unprocessable):
        tag_write(tag=tag, value=value, user=supervisor)


@time_machine.travel("2024-08-26T11:16:00Z", tick=True)
def test_it_accepts_quality_and_timestamp_for_tags_without_a_plc(setpoint, supervisor):
    ts = datetime(2024, 8, 26, 11, 15, tzinfo=UTC)
    result = tag_write(tag=setpoint, value=92.3, user=supervisor, quality="UNCERTAIN", timestamp=ts)
    live = live_get_many([setpoint.pk])[setpoint.pk]
    assert (live.quality, live.timestamp, result.timestamp) == ("UNCERTAIN", ts, ts)


def test_it_refuses_an_unknown_quality(setpoint, supervisor):
    with pytest.raises(BadRequest, match="Invalid quality"):
        tag_write(tag=setpoint, value=1.0, user=supervisor, quality="EXCELLENT")


def test_it_asks_for_a_signature_when_the_tag_requires_one(make_tag, supervisor):
    tag = make_tag("Batch_Release", datatype="BOOL", is_writable=True, requires_signature=True)
    with pytest.raises(PermissionDenied, match="requires an electronic signature"):
        tag_write(tag=tag, value=True, user=supervisor)
    with pytest.raises(BadRequest, match="meaning"):
        tag_write(tag=tag, value=True, user=supervisor, signature={"password": PASSWORD, "reason": "QA ok"})


def test_it_records_a_verified_signature_in_the_audit_trail(make_tag, supervisor):
    tag = make_tag("Batch_Release", datatype="BOOL", is_writable=True, requires_signature=True)
    result = tag_write(tag=tag, value=True, user=supervisor,
                       signature={"password": PASSWORD, "meaning": "Approved", "reason": "QA release"})
    record = AuditRecord.objects.get(pk=result.audit_id)
    assert record.reason == "QA release"
    assert record.new_value["signature"]["meaning"] == "Approved"
    assert record.new_value["signature"]["signed_by"] == "sam"
    assert PASSWORD not in str(record.new_value)


def test_it_rejects_a_wrong_signature_password_and_counts_it_toward_lockout(make_tag, supervisor):
    tag = make_tag("Batch_Release", datatype="BOOL", is_writable=True, requires_signature=True)
    with pytest.raises(PermissionDenied, match="wrong password"):
        tag_write(tag=tag, value=True, user=supervisor,
                  signature={"password": "nope", "meaning": "Approved", "reason": "QA"})
    supervisor.refresh_from_db()
    tag.refresh_from_db()
    assert supervisor.failed_login_count == 1 and tag.write_count == 0
    assert not AuditRecord.objects.filter(action="tag.write").exists()


def test_it_sends_plc_fed_tags_to_the_driver(setpoint, supervisor, plc_router):
    router = plc_router([setpoint])
    result = tag_write(tag=setpoint, value=55.0, user=supervisor)
    assert router.writes == [("Setpoint_Temperature", 55.0)]
    assert result.confirmed is True
    assert AuditRecord.objects.get(pk=result.audit_id).new_value["confirmed"] is True


def test_it_takes_good_quality_and_a_timestamp_on_a_plc_fed_tag_and_says_they_were_not_applied(
        setpoint, supervisor, plc_router):
    router = plc_router([setpoint])
    stated = datetime.now(tz=UTC) - timedelta(minutes=1)
    result = tag_write(tag=setpoint, value=55.0, user=supervisor, quality="GOOD", timestamp=stated)
    assert router.writes == [("Setpoint_Temperature", 55.0)]
    assert result.timestamp > stated  # the read-back's time, not the stated one
    assert "not applied" in result.message and "read-back" in result.message
    record = AuditRecord.objects.get(pk=result.audit_id)
    assert record.new_value["stated_not_applied"] == {"quality": "GOOD", "timestamp": stated.isoformat()}


def test_it_refuses_a_quality_other_than_good_on_a_plc_fed_tag(setpoint, supervisor, plc_router):
    router = plc_router([setpoint])
    with pytest.raises(Unprocessable, match="fed by a PLC.*quality UNCERTAIN cannot be written"):
        tag_write(tag=setpoint, value=55.0, user=supervisor, quality="UNCERTAIN")
    assert router.writes == []


def test_it_audits_a_failed_plc_write_and_answers_502(setpoint, supervisor, plc_router):
    plc_router([setpoint], fail="Modbus exception 2: illegal data address")
    with pytest.raises(DriverWriteFailed, match="illegal data address") as exc:
        tag_write(tag=setpoint, value=55.0, user=supervisor)
    assert exc.value.status_code == 502
    record = AuditRecord.objects.get(action="tag.write_failed")
    assert record.new_value["error"] == "Modbus exception 2: illegal data address"
    setpoint.refresh_from_db()
    assert setpoint.write_count == 0


def test_it_refuses_a_write_to_an_inactive_tag(make_tag, supervisor):
    tag = make_tag("Old_SP", is_writable=True, is_active=False)
    with pytest.raises(Unprocessable, match="not active"):
        tag_write(tag=tag, value=1.0, user=supervisor)


def test_it_fails_a_write_to_a_tag_made_read_only_meanwhile(setpoint, supervisor):
    stale = type(setpoint).objects.get(pk=setpoint.pk)
    type(setpoint).objects.filter(pk=setpoint.pk).update(is_writable=False)
    with pytest.raises(Conflict):
        tag_write(tag=stale, value=1.0, user=supervisor)
    assert live_get_many([setpoint.pk])[setpoint.pk] is None
    assert not AuditRecord.objects.filter(action="tag.write").exists()


@pytest.mark.django_db(transaction=True)
def test_it_counts_every_one_of_many_concurrent_writes(setpoint, supervisor):
    errors = []

    def writer(i):
        try:
            for j in range(5):
                tag_write(tag=type(setpoint).objects.get(pk=setpoint.pk), value=float(i * 10 + j), user=supervisor)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    setpoint.refresh_from_db()
    assert setpoint.write_count == 30
    records = list(AuditRecord.objects.filter(action="tag.write").order_by("id"))
    assert len(records) == 30
    # Serialized per tag: each write's old value is the value the write before it left.
    for before, after in zip(records, records[1:], strict=False):
        assert after.old_value["value"] == before.new_value["value"]


def test_it_still_audits_a_plc_write_when_the_tag_was_made_read_only_meanwhile(setpoint, supervisor, plc_router):
    router = plc_router([setpoint])
    stale = type(setpoint).objects.get(pk=setpoint.pk)
    type(setpoint).objects.filter(pk=setpoint.pk).update(is_writable=False)
    result = tag_write(tag=stale, value=20.0, user=supervisor)
    # The PLC has the value: the trail and the counter say so.
    assert router.writes == [("Setpoint_Temperature", 20.0)]
    assert AuditRecord.objects.get(pk=result.audit_id).new_value["value"] == 20.0
    setpoint.refresh_from_db()
    assert setpoint.write_count == 1


@time_machine.travel("2026-03-01T12:10:00Z", tick=True)
def test_it_keeps_the_newer_live_value_when_a_write_brings_an_older_sample(setpoint, supervisor, set_live,
                                                                            recorded_values):
    """A lab result entered with its (earlier) sample time goes to history; the live value stays the newest,
    and only consumers that asked for backfills (the historian) see it: alarms and the live push do not."""
    seen = {name: recorder.changes for name, recorder in recorded_values.items()}
    set_live(setpoint, 80.0, ts=datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp())

    result = tag_write(tag=setpoint, value=75.5, user=supervisor, quality="GOOD",
                       timestamp="2026-03-01T09:30:00Z")
    assert result.value == 75.5 and result.timestamp == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    live = live_get_many([setpoint.pk])[setpoint.pk]
    assert (live.value, live.ts) == (80.0, datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp())
    assert [(c.value, c.backfill) for c in seen["historian"]] == [(75.5, True)]
    assert seen["alarms"] == [] and seen["push"] == []

    # A newer sample replaces the live value and reaches everyone, as always.
    tag_write(tag=setpoint, value=81.0, user=supervisor, quality="GOOD", timestamp="2026-03-01T12:05:00Z")
    assert live_get_many([setpoint.pk])[setpoint.pk].value == 81.0
    assert [c.value for c in seen["alarms"]] == [81.0] and [c.value for c in seen["push"]] == [81.0]
    assert [c.value for c in seen["historian"]] == [75.5, 81.0]


def test_it_keeps_live_values_moving_when_the_clock_steps_back(setpoint, set_live):
    """Samples timed by this machine (drivers, writes without a stated time) always replace the live value:
    after an NTP step backwards, live values must not freeze until the clock catches up."""
    from tags.values import Sample, tag_values_record

    set_live(setpoint, 80.0, ts=2_000_000_000.0)
    changes = tag_values_record(samples=[Sample(tag_id=setpoint.pk, value=81.0, ts=1_999_999_990.0)])
    assert [c.backfill for c in changes] == [False]
    assert live_get_many([setpoint.pk])[setpoint.pk].value == 81.0


# --- integrity: validate first, audit attempts, never act without a record -------------------------------------

def test_it_refuses_a_string_value_with_a_nul_with_400_and_audits_the_attempt(make_tag, supervisor):
    tag = make_tag("Batch_Note", datatype="STRING", is_writable=True)
    with pytest.raises(BadRequest, match=r"contains a NUL character"):
        tag_write(tag=tag, value="lot\x0042", user=supervisor)
    assert live_get_many([tag.pk])[tag.pk] is None
    refused = AuditRecord.objects.get(action="tag.write_refused")
    assert refused.new_value["value"] == "'lot\\x0042'" and refused.new_value["status"] == 400


def test_it_audits_a_write_refused_for_the_role_as_an_attempt(setpoint, operator):
    with pytest.raises(PermissionDenied):
        tag_write(tag=setpoint, value=10.0, user=operator, reason="try")
    refused = AuditRecord.objects.get(action="tag.write_refused")
    assert (refused.username, refused.reason, refused.new_value["status"]) == ("olivia", "try", 403)


def test_it_audits_a_wrong_signature_as_a_refused_attempt(make_tag, supervisor):
    tag = make_tag("Batch_Release", datatype="BOOL", is_writable=True, requires_signature=True)
    with pytest.raises(PermissionDenied):
        tag_write(tag=tag, value=True, user=supervisor, signature={"password": "nope", "meaning": "M", "reason": "R"})
    refused = AuditRecord.objects.get(action="tag.write_refused")
    assert refused.new_value["error"] == "Signature rejected: wrong password."


def test_it_answers_503_and_changes_nothing_when_the_audit_trail_refuses_the_record(setpoint, supervisor):
    from tests.fixtures import audit_insert_fails

    with audit_insert_fails("tag.write"), pytest.raises(WriteUnavailable) as exc:
        tag_write(tag=setpoint, value=42.0, user=supervisor)
    assert exc.value.status_code == 503
    setpoint.refresh_from_db()
    assert setpoint.write_count == 0 and live_get_many([setpoint.pk])[setpoint.pk] is None


def test_it_never_calls_the_driver_when_the_attempt_cannot_be_recorded(setpoint, supervisor, plc_router):
    from tests.fixtures import audit_insert_fails

    router = plc_router([setpoint])
    with audit_insert_fails("tag.write_attempt"), pytest.raises(WriteUnavailable):
        tag_write(tag=setpoint, value=42.0, user=supervisor)
    assert router.writes == []


@time_machine.travel("2026-03-10T12:00:00Z", tick=True)
def test_it_says_when_a_back_dated_write_went_to_history_only(setpoint, supervisor, set_live):
    set_live(setpoint, 80.0, ts=datetime(2026, 3, 10, 11, 0, tzinfo=UTC).timestamp())
    result = tag_write(tag=setpoint, value=75.5, user=supervisor, timestamp="2026-03-10T09:00:00Z")
    assert result.live is False and "history only" in result.message
    assert live_get_many([setpoint.pk])[setpoint.pk].value == 80.0


def test_it_refuses_a_time_older_than_the_back_fill_window(setpoint, supervisor, settings):
    settings.KILN_WRITE_BACKFILL_DAYS = 3
    old = datetime.now(tz=UTC) - timedelta(days=4)
    with pytest.raises(Unprocessable, match=r"older than the back-fill window of 3 days \(KILN_WRITE_BACKFILL_DAYS\)"):
        tag_write(tag=setpoint, value=1.0, user=supervisor, timestamp=old)
    setpoint.refresh_from_db()
    assert setpoint.write_count == 0 and live_get_many([setpoint.pk])[setpoint.pk] is None
