"""Sparkplug B end to end as a drivers worker runs it (connection_poll_run → backend → loop → values path), on the
real local broker (Mosquitto, 127.0.0.1:1883) with a real edge node (drivers.sparkplug.sim.EdgeNode)."""

import pytest

from drivers.selectors import connection_queryset, connection_status_rows
from drivers.tests.conftest import live
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_births_and_data_of_a_node_and_its_device_become_live_values(edge, sp_plant):
    conn, tags, _ = sp_plant
    assert (live(tags["Temp"]).value, live(tags["TempSP"]).value, live(tags["Running"]).value) == (72.4, 75.0, False)
    edge.set({"Temp": 80.25})
    edge.set({"Count": -3}, device="pump-01")
    assert wait_for(lambda: live(tags["Temp"]).value == 80.25 and live(tags["Count"]).value == -3)
    row = connection_status_rows(list(connection_queryset().filter(pk=conn.pk)))[0]
    assert (row["protocol"], row["state"], row["tags"], row["tags_bad"]) == ("sparkplug", "connected", 4, 0)


def test_a_node_death_turns_its_tags_bad_keeping_the_last_value_and_a_new_birth_restores_them(edge, sp_plant):
    _, tags, _ = sp_plant
    edge.set({"Temp": 81.0})
    assert wait_for(lambda: live(tags["Temp"]).value == 81.0)
    edge.crash()  # the broker delivers the node's will (NDEATH)
    assert wait_for(lambda: live(tags["Temp"]).quality == "BAD", timeout=15)
    lv = live(tags["Temp"])
    assert (lv.value, lv.substatus) == (81.0, "comm_failure")
    assert live(tags["Count"]).quality == "BAD"  # the node's devices die with it
    edge.client.reconnect()
    edge.client.loop_start()
    edge.start()
    assert wait_for(lambda: live(tags["Temp"]).quality == "GOOD" and live(tags["Count"]).quality == "GOOD")


def test_a_sequence_gap_turns_the_node_bad_and_asks_for_a_rebirth_which_restores_it(edge, sp_plant):
    _, tags, _ = sp_plant
    births = edge.births
    edge.set({"Temp": 90.0}, skip_seq=3)  # seq 1–3 lost: this message is not trusted either
    assert wait_for(lambda: edge.births > births, timeout=5)
    assert any(m.name == "Node Control/Rebirth" and m.value is True for _, m in edge.commands)
    # The birth's value (the node holds it) arrives GOOD; the message after the gap itself was not trusted.
    assert wait_for(lambda: live(tags["Temp"]).value == 90.0 and live(tags["Temp"]).quality == "GOOD")


def test_an_unchanged_rebirth_is_not_recorded_again(edge, sp_plant):
    _, tags, _ = sp_plant
    before = {name: live(tag).ts for name, tag in tags.items()}
    births = edge.births
    edge.birth()  # the node births again on its own (as after its own restart), same values, new timestamps
    assert wait_for(lambda: edge.births > births)
    edge.set({"Temp": 73.0})  # a later change arrives after the rebirth, so the rebirth was handled
    assert wait_for(lambda: live(tags["Temp"]).value == 73.0)
    assert {n: live(t).ts for n, t in tags.items() if n != "Temp"} == {n: ts for n, ts in before.items()
                                                                        if n != "Temp"}


@pytest.fixture
def own_broker():
    """A Mosquitto of this test's own on a free port, which the test may stop and start again."""
    import subprocess

    from tests.servers import free_port

    class Broker:
        port = free_port()
        proc = None

        def start(self):
            self.proc = subprocess.Popen(["mosquitto", "-p", str(self.port)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            import socket

            def up():
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return True
                except OSError:
                    return False

            assert wait_for(up, timeout=5), "mosquitto did not start"

        def stop(self):
            self.proc.terminate()
            self.proc.wait(5)

    broker = Broker()
    broker.start()
    yield broker
    if broker.proc.poll() is None:
        broker.stop()


def test_a_lost_broker_turns_every_tag_bad_once_and_the_new_session_brings_them_back(group, own_broker, make_tag,
                                                                                     poll_loop):
    from drivers.models import Connection, MetricBinding
    from drivers.sparkplug.payload import DataType
    from drivers.sparkplug.sim import EdgeNode

    conn = Connection(name="sp-own", protocol="sparkplug", host="127.0.0.1", port=own_broker.port, group_id=group,
                      host_id=f"kiln-{group}", timeout=0.5, backoff_cap=1.0)
    conn.full_clean()
    conn.save()
    tag = make_tag("SP_Level")
    MetricBinding.objects.create(tag=tag, connection=conn, edge_node="edge-9", metric="Level",
                                 datatype=DataType.DOUBLE)
    poll_loop(conn)
    assert wait_for(lambda: connection_status_rows([conn])[0]["state"] == "connected", timeout=10)
    metrics = {"": {"Level": (DataType.DOUBLE, 63.5, False)}}
    node = EdgeNode(group=group, node="edge-9", metrics=metrics, port=own_broker.port).start()
    assert wait_for(lambda: (lv := live(tag)) is not None and lv.quality == "GOOD")
    own_broker.stop()
    assert wait_for(lambda: live(tag).quality == "BAD", timeout=10)
    assert (live(tag).value, live(tag).substatus) == (63.5, "comm_failure")
    node.client.loop_stop()
    own_broker.start()
    node = EdgeNode(group=group, node="edge-9", metrics={"": {"Level": (DataType.DOUBLE, 64.0, False)}},
                    port=own_broker.port).start()
    # Kiln's paho session comes back by itself (back-off ≤ 1 s here) and the node's birth makes the tag GOOD.
    assert wait_for(lambda: live(tag).quality == "GOOD" and live(tag).value == 64.0, timeout=15)
    # The stats hash is rewritten once a second: the reconnect shows at the next housekeeping.
    assert wait_for(lambda: connection_status_rows([conn])[0]["reconnects"] >= 1, timeout=3)
    node.client.disconnect()
    node.client.loop_stop()
