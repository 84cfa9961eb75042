"""Writes to PLC tags: encode, write on the poll loop's socket, read back, confirm; refusals and lost replies."""

import threading
import time

import pytest

from accounts.models import AuditRecord
from drivers.writes import ModbusWriteRouter
from scada.redis import get_redis
from tags.live import live_get_many
from tags.writers import DriverWriteError, get_write_router
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _setpoint_on_plc(plc, make_tag, make_connection, bind, poll_loop, scan_period):
    conn = make_connection(port=plc.plc.port, timeout=0.3)
    tag = make_tag("Speed_SP", is_writable=True, min_value=0, max_value=3000)
    bind(tag, conn, table="holding", address=0, data_type="float32", scan_period=scan_period)
    loop = poll_loop(conn)
    assert wait_for(lambda: live_get_many([tag.pk])[tag.pk] is not None)
    return tag, loop


@pytest.fixture
def setpoint_on_plc(plc, make_tag, make_connection, bind, poll_loop):
    """A writable REAL tag bound to holding 0 (float32) of a real PLC, with its poll loop running."""
    return _setpoint_on_plc(plc, make_tag, make_connection, bind, poll_loop, scan_period=100)


@pytest.fixture
def idle_setpoint_on_plc(plc, make_tag, make_connection, bind, poll_loop):
    """The same, polled every 10 s: after its first read the loop only writes (no poll races a write)."""
    return _setpoint_on_plc(plc, make_tag, make_connection, bind, poll_loop, scan_period=10_000)


def test_it_is_the_registered_write_router_and_knows_bound_tags(make_tag, make_connection, bind):
    router = get_write_router()
    assert isinstance(router, ModbusWriteRouter)
    tag = make_tag("Loose")
    assert not router.handles(tag.pk)
    bind(tag, make_connection())
    assert router.handles(tag.pk)  # the cache follows the drivers config version


def test_it_writes_reads_back_and_confirms(plc, setpoint_on_plc):
    tag, _ = setpoint_on_plc
    outcome = get_write_router().write(tag=tag, value=1234.5)
    assert (outcome.confirmed, outcome.readback) == (True, 1234.5)
    assert plc.plc.writes == [("holding", 0, [0x449A, 0x5000])]  # float32 1234.5, ABCD
    assert live_get_many([tag.pk])[tag.pk].value == 1234.5  # the read-back was recorded


def test_it_reports_an_unconfirmed_write_when_the_plc_clamps_it(plc, setpoint_on_plc):
    tag, _ = setpoint_on_plc
    plc.plc.clamp[("holding", 0)] = (0, 0x4480)  # the high word clamped: 1024.0 at most
    outcome = get_write_router().write(tag=tag, value=2000.0)
    assert outcome.confirmed is False
    assert outcome.readback == 1024.0
    assert live_get_many([tag.pk])[tag.pk].value == 1024.0


def test_it_fails_cleanly_when_the_plc_refuses_the_write(plc, setpoint_on_plc):
    tag, _ = setpoint_on_plc
    plc.plc.refuse.add(("holding", 0))
    with pytest.raises(DriverWriteError) as exc:
        get_write_router().write(tag=tag, value=10.0)
    assert exc.value.unknown_outcome is False
    assert "the PLC refused the write" in exc.value.detail and "exception 4 (device failure)" in exc.value.detail


def test_it_reports_an_unknown_outcome_and_never_retries_when_the_reply_is_lost(plc, idle_setpoint_on_plc):
    # A poll read reaching the frozen PLC before the write would fail the connection first (and the write would be
    # refused as "down"); on a loaded machine that race was lost often, so this loop does not poll meanwhile.
    tag, _ = idle_setpoint_on_plc
    plc.plc.freeze()
    started = time.monotonic()
    with pytest.raises(DriverWriteError) as exc:
        get_write_router().write(tag=tag, value=99.0)
    assert exc.value.unknown_outcome is True
    assert time.monotonic() - started < 4.0
    plc.plc.thaw()
    time.sleep(0.5)
    assert [r for r in plc.plc.received if r[0] in (6, 16)] == [(16, 0)]  # sent exactly once, never retried


def test_it_refuses_when_no_loop_polls_the_connection(make_tag, make_connection, bind):
    tag = make_tag("Orphan_SP", is_writable=True)
    bind(tag, make_connection(), address=0, data_type="float32")
    with pytest.raises(DriverWriteError) as exc:
        get_write_router().write(tag=tag, value=1.0)
    assert "is not being polled" in exc.value.detail and exc.value.unknown_outcome is False


def test_it_refuses_a_value_the_plc_address_cannot_hold(plc, make_tag, make_connection, bind, poll_loop):
    conn = make_connection(port=plc.plc.port)
    tag = make_tag("Small_SP", "INT", is_writable=True)
    bind(tag, conn, address=5, data_type="uint16")
    with pytest.raises(DriverWriteError) as exc:
        get_write_router().write(tag=tag, value=70000)
    assert "outside the uint16 range 0…65535" in exc.value.detail
    assert plc.plc.writes == []


def test_it_serializes_two_writes_to_one_tag(plc, setpoint_on_plc):
    tag, _ = setpoint_on_plc
    held = get_redis().lock(f"kiln:drv:wlock:{tag.pk}", timeout=10)
    assert held.acquire()
    results = []
    writer = threading.Thread(target=lambda: results.append(get_write_router().write(tag=tag, value=5.0)))
    writer.start()
    time.sleep(0.4)
    assert plc.plc.writes == []  # waiting for the first writer
    held.release()
    writer.join(5)
    assert results and results[0].confirmed is True
    assert len(plc.plc.writes) == 1


def test_it_writes_a_coil_the_simulated_pump_honours(plc, make_tag, make_connection, bind, poll_loop):
    conn = make_connection(port=plc.plc.port)
    start = make_tag("Pump_Start", "BOOL", is_writable=True)
    bind(start, conn, table="coil", address=1, data_type="bool", scan_period=100)
    poll_loop(conn)
    assert wait_for(lambda: live_get_many([start.pk])[start.pk] is not None)
    outcome = get_write_router().write(tag=start, value=True)
    assert (outcome.confirmed, outcome.readback) == (True, True)
    assert plc.call(plc.plc.get, "coil", 1) == [True]


def test_it_goes_through_the_tag_write_service_with_the_verdict_in_the_audit(plc, setpoint_on_plc, supervisor):
    from tags.services import tag_write

    tag, _ = setpoint_on_plc
    result = tag_write(tag=tag, value=1500.0, user=supervisor)
    assert result.confirmed is True
    record = AuditRecord.objects.filter(action="tag.write", object_id="Speed_SP").latest("id")
    assert record.new_value["confirmed"] is True


# --- the rule: no PLC write without its audit record ------------------------------------------------------------

def test_it_leaves_the_plc_untouched_when_the_write_attempt_cannot_be_audited(plc, setpoint_on_plc, supervisor):
    from scada.errors import KilnError
    from tags.services import tag_write
    from tests.fixtures import audit_insert_fails

    tag, _ = setpoint_on_plc
    with audit_insert_fails("tag.write_attempt"), pytest.raises(KilnError) as exc:
        tag_write(tag=tag, value=1500.0, user=supervisor)
    assert exc.value.status_code == 503 and "audit record could not be stored" in exc.value.detail
    assert plc.plc.writes == []  # the PLC never saw the write
    tag.refresh_from_db()
    assert tag.write_count == 0
    assert not AuditRecord.objects.filter(action__in=["tag.write", "tag.write_attempt"]).exists()


def test_it_records_the_attempt_before_the_plc_write_and_the_outcome_after(plc, setpoint_on_plc, supervisor):
    from tags.services import tag_write

    tag, _ = setpoint_on_plc
    result = tag_write(tag=tag, value=1500.0, user=supervisor)
    attempt, outcome = AuditRecord.objects.filter(object_id="Speed_SP").order_by("id")
    assert (attempt.action, outcome.action, outcome.pk) == ("tag.write_attempt", "tag.write", result.audit_id)
    assert outcome.new_value["attempt_id"] == attempt.pk and attempt.new_value["value"] == 1500.0


def test_it_refuses_a_signature_meaning_with_a_nul_before_the_plc_is_touched(plc, setpoint_on_plc, supervisor):
    from conftest import PASSWORD
    from scada.errors import BadRequest
    from tags.models import Tag
    from tags.services import tag_write

    tag, _ = setpoint_on_plc
    Tag.objects.filter(pk=tag.pk).update(requires_signature=True)
    tag.refresh_from_db()
    before = plc.call(plc.plc.get, "holding", 0, 2)
    with pytest.raises(BadRequest, match=r"signature: meaning contains a NUL character"):
        tag_write(tag=tag, value=70.0, user=supervisor,
                  signature={"password": PASSWORD, "meaning": "Appro\x00ved", "reason": "change"})
    assert plc.plc.writes == [] and plc.call(plc.plc.get, "holding", 0, 2) == before
    refused = AuditRecord.objects.get(action="tag.write_refused")
    assert (refused.object_id, refused.new_value["status"]) == ("Speed_SP", 400)
    assert not AuditRecord.objects.filter(action__in=["tag.write", "tag.write_attempt"]).exists()


def test_it_reports_a_float32_setpoint_at_float32_precision(plc, setpoint_on_plc, supervisor):
    from tags.services import tag_write

    tag, _ = setpoint_on_plc
    tag_write(tag=tag, value=1485.2, user=supervisor)  # float32 holds 1485.199951171875
    assert live_get_many([tag.pk])[tag.pk].value == 1485.2
    assert repr(live_get_many([tag.pk])[tag.pk].value) == "1485.2"
