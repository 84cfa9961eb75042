"""OPC UA end to end as a drivers worker runs it (connection_poll_run → backend → loop → values path), against a
real asyncua server: live values, writes with read-back through the one write service, audit before write."""

import pytest

from accounts.models import AuditRecord
from drivers.models import Connection, NodeBinding
from drivers.opcua.sim import OpcuaSim, SimThread
from tags.live import live_get_many
from tags.writers import DriverWriteError, get_write_router
from tests.servers import free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

VARIABLES = {
    "Reactor.TempSP": (75.0, "Float", True),
    "Reactor.Temp": (72.4, "Double", False),
    "Pump.Running": (False, "Boolean", True),
    "Pump.Count": (0, "Int16", True),
    "Pump.Mode": ("AUTO", "String", False),
}


@pytest.fixture
def sim():
    thread = SimThread(OpcuaSim(port=free_port(), variables=VARIABLES)).start()
    yield thread
    thread.close()


@pytest.fixture
def ua_plant(sim, make_tag, poll_loop):
    """An OPC UA connection to the simulator with four tags, its worker loop running, first values in."""
    conn = Connection(name="ua-sim", protocol="opcua", endpoint_url=sim.sim.endpoint, timeout=0.5,
                      publishing_interval=20, backoff_cap=1.0)
    conn.full_clean()
    conn.save()
    tags = {
        "Reactor.TempSP": make_tag("Reactor_Temp_SP", is_writable=True, min_value=0, max_value=200),
        "Reactor.Temp": make_tag("Reactor_Temp"),
        "Pump.Running": make_tag("Pump_Running", datatype="BOOL", is_writable=True),
        "Pump.Count": make_tag("Pump_Count", datatype="INT", is_writable=True),
    }
    for name, tag in tags.items():
        b = NodeBinding(tag=tag, connection=conn, node_id=sim.sim.node_id(name), sampling_interval=10)
        b.full_clean()
        b.save()
    loop = poll_loop(conn)
    ids = [t.pk for t in tags.values()]
    assert wait_for(lambda: all(v is not None for v in live_get_many(ids).values()), timeout=10)
    return conn, tags, loop


def test_a_worker_loop_feeds_live_values_from_the_subscription(sim, ua_plant):
    _, tags, _ = ua_plant
    live = live_get_many([tags["Reactor.Temp"].pk, tags["Reactor.TempSP"].pk])
    assert live[tags["Reactor.Temp"].pk].value == 72.4 and live[tags["Reactor.Temp"].pk].quality == "GOOD"
    assert live[tags["Reactor.TempSP"].pk].value == 75.0  # a Float, at float32 precision
    sim.set("Reactor.Temp", 80.25)
    assert wait_for(lambda: live_get_many([tags["Reactor.Temp"].pk])[tags["Reactor.Temp"].pk].value == 80.25)


def test_a_node_whose_value_the_tag_cannot_carry_makes_it_bad_config_error_not_a_wrong_value(sim, make_tag, poll_loop):
    conn = Connection(name="ua-types", protocol="opcua", endpoint_url=sim.sim.endpoint, timeout=0.5,
                      publishing_interval=20, backoff_cap=1.0)
    conn.full_clean()
    conn.save()
    tag = make_tag("Pump_Mode_Real")  # a REAL tag bound (type "auto") to a node that holds a String
    b = NodeBinding(tag=tag, connection=conn, node_id=sim.sim.node_id("Pump.Mode"), sampling_interval=10)
    b.full_clean()
    b.save()
    poll_loop(conn)
    assert wait_for(lambda: (lv := live_get_many([tag.pk])[tag.pk]) is not None and lv.quality == "BAD", timeout=10)
    live = live_get_many([tag.pk])[tag.pk]
    assert (live.value, live.substatus) == (None, "config_error")


def test_it_writes_through_the_write_router_reads_back_and_confirms(sim, ua_plant):
    _, tags, _ = ua_plant
    router = get_write_router()
    assert router.handles(tags["Reactor.TempSP"].pk)
    outcome = router.write(tag=tags["Reactor.TempSP"], value=81.3)
    assert (outcome.confirmed, outcome.readback) == (True, 81.3)
    assert sim.sim.writes == [("Reactor.TempSP", pytest.approx(81.3))]
    assert live_get_many([tags["Reactor.TempSP"].pk])[tags["Reactor.TempSP"].pk].value == 81.3
    # The node's own type is used (auto): a BOOL as Boolean, an INT as Int16.
    assert router.write(tag=tags["Pump.Running"], value=True).confirmed is True
    assert router.write(tag=tags["Pump.Count"], value=-12).readback == -12
    assert sim.get("Pump.Count") == -12


def test_a_value_the_node_type_cannot_hold_is_refused_and_nothing_is_written(sim, ua_plant):
    _, tags, _ = ua_plant
    with pytest.raises(DriverWriteError) as exc:
        get_write_router().write(tag=tags["Pump.Count"], value=40000)  # beyond Int16
    assert "outside Int16" in str(exc.value) and exc.value.unknown_outcome is False
    assert sim.sim.writes == []


def test_a_server_that_clamps_the_value_makes_the_write_unconfirmed_with_the_clamped_read_back(sim, ua_plant):
    _, tags, _ = ua_plant
    sim.sim.clamp["Reactor.TempSP"] = (0.0, 100.0)
    outcome = get_write_router().write(tag=tags["Reactor.TempSP"], value=150.0)
    assert (outcome.confirmed, outcome.readback) == (False, 100.0)
    assert wait_for(lambda: live_get_many([tags["Reactor.TempSP"].pk])[tags["Reactor.TempSP"].pk].value == 100.0)


def test_the_server_never_sees_a_write_whose_attempt_cannot_be_audited(sim, ua_plant, supervisor):
    from scada.errors import KilnError
    from tags.services import tag_write
    from tests.fixtures import audit_insert_fails

    _, tags, _ = ua_plant
    tag = tags["Reactor.TempSP"]
    with audit_insert_fails("tag.write_attempt"), pytest.raises(KilnError) as exc:
        tag_write(tag=tag, value=90.0, user=supervisor)
    assert exc.value.status_code == 503
    assert sim.sim.writes == [] and sim.get("Reactor.TempSP") == 75.0
    result = tag_write(tag=tag, value=90.0, user=supervisor)
    attempt, outcome = AuditRecord.objects.filter(object_id="Reactor_Temp_SP").order_by("id")
    assert (attempt.action, outcome.action, result.confirmed) == ("tag.write_attempt", "tag.write", True)
