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
