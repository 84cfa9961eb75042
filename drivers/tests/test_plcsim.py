"""The simulated PLC: its process model reacts to writes, `manage.py plcsim` serves it, the demo binds to it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.modbus import ModbusTransport
from drivers.models import Connection, TagBinding
from drivers.plcsim import DEMO_MAP, DemoProcess
from tests.servers import free_port, wait_for

BY_TAG = {e.tag: e for e in DEMO_MAP}


@pytest.fixture
def demo(plc_factory):
    plc = plc_factory(size=200)
    process = DemoProcess(plc.plc, seed=7)
    plc.call(process.initialise)

    class Demo:
        def run(self, seconds):
            def steps():
                for _ in range(int(seconds / 0.1)):
                    process.step(0.1)
            plc.call(steps)

        def get(self, tag):
            e = BY_TAG[tag]
            return e.codec().decode(plc.call(plc.plc.get, e.table, e.address, e.codec().count))

        def put(self, tag, value):
            e = BY_TAG[tag]
            plc.call(plc.plc.set, e.table, e.address, e.codec().encode(value))

    d = Demo()
    d.process = process
    return d


def test_it_starts_a_pump_on_the_start_bit_and_follows_the_setpoint(demo):
    assert demo.get("pump-02.Running") is False
    demo.put("pump-02.SpeedSetpoint", 2000.0)
    demo.put("pump-02.Start", True)
    demo.run(12)
    assert demo.get("pump-02.Running") is True
    assert demo.get("pump-02.Start") is False  # a command pulse, cleared by the PLC
    assert demo.get("pump-02.Speed") == pytest.approx(2000, abs=15)
    assert demo.get("pump-02.Current") > 20
    assert demo.get("pump-02.BearingTempDE") > 24.5  # warming with load


def test_it_stops_a_pump_on_the_stop_bit_or_a_written_running_coil(demo):
    demo.put("pump-01.Stop", True)
    demo.run(12)
    assert demo.get("pump-01.Running") is False and demo.get("pump-01.Speed") < 5
    demo.put("pump-01.Running", True)  # writing the coil itself is honoured too
    demo.run(12)
    assert demo.get("pump-01.Speed") == pytest.approx(1500, abs=15)


def test_it_closes_the_inlet_at_high_level_and_reopens_at_low_level(demo):
    demo.put("pump-01.Stop", True)
    demo.process.state["Tank_Level"] = 94.9
    demo.run(1)
    assert demo.get("Inlet_Valve_Open") is False and demo.get("Status_Text") == "HIGH LEVEL"
    level = demo.get("Tank_Level")
    demo.put("pump-01.Running", True)
    demo.run(5)
    assert demo.get("Tank_Level") < level  # draining through pump-01
    demo.process.state["Tank_Level"] = 20.05
    demo.run(1)
    assert demo.get("Inlet_Valve_Open") is True


def test_it_moves_the_reactor_temperature_towards_its_setpoint_with_lag(demo):
    start = demo.get("Reactor_Temp")
    demo.put("Reactor_Temp_SP", 100.0)
    demo.run(30)
    temp = demo.get("Reactor_Temp")
    assert start + 0.5 * (100 - start) < temp < 99.0  # one time constant: about 63 % of the way
    assert demo.get("Reactor_Pressure") == pytest.approx(1.0 + 0.02 * (temp - 20), abs=0.1)


def test_it_counts_run_hours_while_pump_01_runs(demo):
    demo.process.run_seconds = 10 * 3600 - 1
    demo.run(2)
    assert demo.get("Run_Hours") == pytest.approx(10.0, abs=0.01)


def test_manage_py_plcsim_serves_the_demo_plant():
    port = free_port()
    env = dict(os.environ, KILN_TESTING="1", PLCSIM_PORT=str(port))
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "manage.py", "plcsim"], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        t = ModbusTransport("127.0.0.1", port, timeout=0.5)

        def connected():
            try:
                t.connect()
                return True
            except Exception:  # noqa: BLE001
                return False

        assert wait_for(connected, timeout=20, step=0.2)
        status = BY_TAG["Status_Text"]
        assert status.codec().decode(t.read(status.table, status.address, status.codec().count)) in {
            "FILLING", "DRAINING", "STEADY"}
        sp = BY_TAG["pump-01.SpeedSetpoint"]
        assert sp.codec().decode(t.read(sp.table, sp.address, 2)) == 1500.0
        t.close()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.django_db
def test_the_demo_binds_the_demo_tags_whenever_they_exist():
    from drivers.demo import load_drivers
    from tags.demo import load_plant

    assert f"{len(DEMO_MAP)} demo tags not there yet" in load_drivers()
    assert TagBinding.objects.count() == 0
    load_plant()
    summary = load_drivers()
    assert f"{len(DEMO_MAP)} tags bound" in summary and "skipped" not in summary
    assert "0 tags bound" in load_drivers()  # idempotent
    conn = Connection.objects.get(name="plcsim")
    assert (conn.host, conn.port) == ("127.0.0.1", int(os.environ.get("PLCSIM_PORT") or 5020))
    level = TagBinding.objects.select_related("tag").get(tag__name="Tank_Level")
    assert (level.table, level.address, level.eu_high) == ("input", 30, 100)
