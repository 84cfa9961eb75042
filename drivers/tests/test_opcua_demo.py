"""The demo plant over OPC UA: demo_load's `opcuasim` connection, fed by the simulator's process model."""

import asyncio

import pytest

from drivers.demo import OPCUA_TAGS, load_opcua_demo
from drivers.models import Connection, NodeBinding
from drivers.opcua.sim import DemoPlant, OpcuaSim, SimThread
from tags.live import live_get_many
from tags.models import Tag
from tests.servers import free_port, wait_for


def test_demo_load_makes_the_opcua_connection_and_binds_its_tags_once(db, monkeypatch):
    monkeypatch.delenv("OPCUASIM_PORT", raising=False)
    assert load_opcua_demo().startswith("skipped") and not Connection.objects.filter(protocol="opcua").exists()
    monkeypatch.setenv("OPCUASIM_PORT", "4999")
    assert load_opcua_demo() == "connection opcuasim → opc.tcp://127.0.0.1:4999/kiln, 6 OPC UA nodes bound"
    monkeypatch.setenv("OPCUASIM_PORT", "5001")
    assert load_opcua_demo().endswith("0 OPC UA nodes bound")  # idempotent; follows a moved simulator
    conn = Connection.objects.get(name="opcuasim")
    assert (conn.endpoint_url, conn.port) == ("opc.tcp://127.0.0.1:5001/kiln", 5001)
    assert NodeBinding.objects.filter(connection=conn).count() == len(OPCUA_TAGS)
    assert Tag.objects.get(name="UA_Reactor_Temp_SP").is_writable
    # Shown as the values they mirror: one decimal for temperatures and the level, none for speed.
    assert dict(Tag.objects.filter(name__in=["UA_Reactor_Temp_SP", "UA_Tank_Level", "UA_Pump_01_Speed"])
                .values_list("name", "decimals")) == {"UA_Reactor_Temp_SP": 1, "UA_Tank_Level": 1,
                                                      "UA_Pump_01_Speed": 0}


@pytest.mark.django_db(transaction=True)
def test_the_demo_plant_reaches_kiln_over_opcua(monkeypatch, poll_loop):
    sim = SimThread(OpcuaSim(port=free_port())).start()
    plant = asyncio.run_coroutine_threadsafe(DemoPlant(sim.sim, seed=1).run(), sim.loop)
    try:
        monkeypatch.setenv("OPCUASIM_PORT", str(sim.sim.port))
        load_opcua_demo()
        poll_loop(Connection.objects.get(name="opcuasim"))
        ids = dict(Tag.objects.filter(name__in=[t[0] for t in OPCUA_TAGS]).values_list("name", "pk"))
        def all_good():
            return all(v is not None and v.quality == "GOOD" for v in live_get_many(ids.values()).values())

        assert wait_for(all_good, timeout=15)
        live = live_get_many(ids.values())
        assert 60 < live[ids["UA_Reactor_Temp"]].value < 80  # the process model's reactor, ~72 °C at start
        assert live[ids["UA_Reactor_Temp_SP"]].value == 75.0 and live[ids["UA_Pump_01_Running"]].value is True
        assert live[ids["UA_Status_Text"]].value in ("FILLING", "DRAINING", "STEADY", "HIGH LEVEL", "EMPTY")
    finally:
        plant.cancel()
        sim.close()
