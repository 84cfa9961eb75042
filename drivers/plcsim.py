"""A simulated PLC: a real pymodbus TCP server, with a small live process model for the demo plant.

`SimulatedPlc` is the server (used by `manage.py plcsim`, the tests and the benchmark): four tables, holes that
answer "illegal data address", and fault injection for tests — `freeze()` stops answering (requests hang, as
with a PLC whose CPU stopped), `clamp` limits written values (as PLCs do with setpoint limits), `refuse` answers
a Modbus exception for chosen addresses.

`DemoProcess` is the demo plant's process model, ticking every 100 ms on the server's own memory: pump speed
follows its setpoint while running, current and bearing temperatures follow load, the tank fills through the
inlet valve and drains through pump-01 (with high/low level interlocks, so it keeps moving on its own), the
reactor temperature follows its setpoint with lag and noise, run hours count while pump-01 runs, and a status
string says what the tank is doing. Writes (setpoints, Start/Stop/Running coils, the inlet valve) take effect
on the next tick. DEMO_MAP is the register map, shared with drivers.demo, which binds the demo tags to it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import time
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from drivers.codec import Codec, Scaling

logger = logging.getLogger(__name__)

__all__ = ["SimulatedPlc", "DemoProcess", "DEMO_MAP", "MapEntry", "serve_in_thread", "PlcThread"]

_TABLE_KEY = {"coil": "c", "discrete": "d", "holding": "h", "input": "i"}
_WRITE_CODES = {5, 6, 15, 16, 22, 23}


class SimulatedPlc:
    """A pymodbus 3.16 TCP server with `size` addresses in each table (0..size-1), all zero at start.

    `holes` lists (table, start, count) ranges that do not exist (reads touching them get exception 2).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 5020, size: int = 2000,
                 holes: list[tuple[str, int, int]] | None = None):
        self.host, self.port, self.size = host, port, size
        self.holes = holes or []
        self.clamp: dict[tuple[str, int], tuple[int, int]] = {}  # (table, address) → (low, high) raw
        self.refuse: set[tuple[str, int]] = set()  # (table, address) answered with exception 4 (device failure)
        self.requests = 0
        self.delay = 0.0  # seconds every request takes to answer (a slow PLC)
        self.writes: list[tuple[str, int, list]] = []  # writes applied (after clamping)
        self.received: list[tuple[int, int]] = []  # every request: (function code, address)
        self._frozen = False
        self._thaw: asyncio.Event | None = None
        self.server: ModbusTcpServer | None = None
        self._runtime = None

    # --- construction -----------------------------------------------------------------------------------------
    def _blocks(self, bits: bool) -> list[SimData]:
        kind = SimType.BITS if bits else SimType.REGISTERS
        zero = False if bits else 0
        return [SimData(0, count=self.size, values=zero, datatype=kind)]

    def _device(self) -> SimDevice:
        return SimDevice(0, simdata=(self._blocks(True), self._blocks(True), self._blocks(False),
                                     self._blocks(False)), action=self._action)

    async def start(self) -> None:
        self._thaw = asyncio.Event()
        self._thaw.set()
        self.server = ModbusTcpServer(self._device(), address=(self.host, self.port))
        await self.server.serve_forever(background=True)
        self._runtime = self.server.context.devices[0]

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    @property
    def connections(self) -> int:
        """Client sockets currently open to this PLC."""
        return len(self.server.active_connections) if self.server is not None else 0

    # --- fault injection ----------------------------------------------------------------------------------------
    def freeze(self) -> None:
        """Stop answering: requests are accepted by TCP but never replied to (until thaw)."""
        self._frozen = True
        if self._thaw is not None:
            self._thaw.clear()

    def thaw(self) -> None:
        self._frozen = False
        if self._thaw is not None:
            self._thaw.set()

    def _table_of(self, function_code: int) -> str:
        return {1: "coil", 5: "coil", 15: "coil", 2: "discrete", 4: "input"}.get(function_code, "holding")

    async def _action(self, function_code, start_address, address, count, registers, set_values):
        self.requests += 1
        self.received.append((function_code, address))
        if self._frozen:
            await self._thaw.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        table = self._table_of(function_code)
        for t, start, n in self.holes:
            if t == table and address < start + n and start < address + count:
                return ExcCodes.ILLEGAL_ADDRESS
        for t, a in self.refuse:
            if t == table and address <= a < address + count:
                return ExcCodes.DEVICE_FAILURE
        if set_values and function_code in _WRITE_CODES:
            for i in range(len(set_values)):
                limits = self.clamp.get((table, address + i))
                if limits is not None:
                    set_values[i] = min(max(set_values[i], limits[0]), limits[1])
            self.writes.append((table, address, list(set_values)))
        return None

    # --- direct memory access (the process model, tests) ----------------------------------------------------------
    def _block(self, table: str):
        start, _count, regs, _flags = self._runtime.block[_TABLE_KEY[table]]
        return start, regs

    def get(self, table: str, address: int, count: int = 1) -> list:
        start, regs = self._block(table)
        if table in ("coil", "discrete"):
            return [bool(regs[(a // 16) - start] >> (a % 16) & 1) for a in range(address, address + count)]
        return list(regs[address - start:address - start + count])

    def set(self, table: str, address: int, values: list) -> None:
        start, regs = self._block(table)
        for i, v in enumerate(values):
            a = address + i
            if table in ("coil", "discrete"):
                idx, bit = (a // 16) - start, a % 16
                regs[idx] = (regs[idx] | (1 << bit)) if v else (regs[idx] & ~(1 << bit))
            else:
                regs[a - start] = int(v) & 0xFFFF


class PlcThread:
    """A SimulatedPlc served from its own event loop in a daemon thread (tests, in-process)."""

    def __init__(self, plc: SimulatedPlc):
        self.plc = plc
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"plc-{plc.port}")

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.plc.start())
        self._started.set()
        self.loop.run_forever()

    def start(self) -> PlcThread:
        self.thread.start()
        if not self._started.wait(10):
            raise RuntimeError("simulated PLC did not start")
        return self

    def call(self, fn, *args):
        """Run fn(*args) on the server's loop (memory access must not race a request) and return its result."""
        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _stop(self):
        self.plc.thaw()
        await self.plc.stop()


def serve_in_thread(**kwargs) -> PlcThread:
    return PlcThread(SimulatedPlc(**kwargs)).start()


# --- the demo plant -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MapEntry:
    """One demo tag's place in the simulated PLC (and how drivers.demo binds it)."""

    tag: str
    table: str
    address: int
    data_type: str
    string_length: int | None = None
    word_order: str = "big"
    scaling: tuple[float, float, float, float] | None = None
    scan_period: int = 1000

    def codec(self) -> Codec:
        return Codec(self.data_type, string_length=self.string_length, word_order=self.word_order,
                     scaling=Scaling(*self.scaling) if self.scaling else None)


def _pump(machine: str, base: int) -> list[MapEntry]:
    return [
        MapEntry(f"{machine}.Running", "coil", base, "bool", scan_period=250),
        MapEntry(f"{machine}.Start", "coil", base + 1, "bool", scan_period=250),
        MapEntry(f"{machine}.Stop", "coil", base + 2, "bool", scan_period=250),
        MapEntry(f"{machine}.Faulted", "discrete", base, "bool", scan_period=250),
        MapEntry(f"{machine}.SpeedSetpoint", "holding", base, "float32"),
        MapEntry(f"{machine}.Speed", "input", base, "float32", scan_period=250),
        MapEntry(f"{machine}.Current", "input", base + 2, "float32", scan_period=250),
        MapEntry(f"{machine}.BearingTempDE", "input", base + 4, "float32"),
        MapEntry(f"{machine}.BearingTempNDE", "input", base + 6, "float32"),
    ]


DEMO_MAP: list[MapEntry] = [
    *_pump("pump-01", 0),
    *_pump("pump-02", 10),
    MapEntry("Inlet_Valve_Open", "coil", 20, "bool", scan_period=250),
    MapEntry("Reactor_Temp_SP", "holding", 20, "float32"),
    MapEntry("Reactor_Temp", "input", 20, "float32"),
    # Raw 0–10000 → 0–10 bar, and tenths of °C: the scaling a real analog input card would need.
    MapEntry("Reactor_Pressure", "input", 22, "int16", scaling=(0, 10000, 0, 10)),
    MapEntry("Temp_PV", "input", 23, "int16", scaling=(0, 1500, 0, 150)),
    MapEntry("Tank_Level", "input", 30, "uint16", scaling=(0, 10000, 0, 100), scan_period=250),
    # Seconds in a uint32, low word first (CDAB), shown in whole hours: word order and scaling to an INT tag.
    MapEntry("Run_Hours", "input", 32, "uint32", word_order="little", scaling=(0, 3600, 0, 1), scan_period=10000),
    MapEntry("Pump_Speed", "input", 34, "float32", scan_period=250),
    MapEntry("Status_Text", "input", 40, "string", string_length=10),
]
_BY_TAG = {e.tag: e for e in DEMO_MAP}


class DemoProcess:
    """The demo plant's physics, stepping the simulated PLC's memory (see the module docstring)."""

    TICK = 0.1

    def __init__(self, plc: SimulatedPlc, *, seed: int | None = None):
        self.plc = plc
        self.rng = random.Random(seed)
        self.t = 0.0
        self.run_seconds = 1287 * 3600.0
        self.state = {"pump-01.Speed": 1485.2, "pump-02.Speed": 0.0, "pump-01.BearingTempDE": 58.3,
                      "pump-01.BearingTempNDE": 55.1, "pump-02.BearingTempDE": 24.1, "pump-02.BearingTempNDE": 23.8,
                      "Reactor_Temp": 72.4, "Temp_PV": 68.9, "Tank_Level": 63.5}

    def _get(self, tag):
        e = _BY_TAG[tag]
        return e.codec().decode(self.plc.get(e.table, e.address, e.codec().count))

    def _put(self, tag, value):
        e = _BY_TAG[tag]
        self.plc.set(e.table, e.address, e.codec().encode(value))

    def initialise(self) -> None:
        for tag, value in [("pump-01.Running", True), ("pump-01.SpeedSetpoint", 1500.0), ("pump-02.Running", False),
                           ("pump-02.SpeedSetpoint", 0.0), ("Reactor_Temp_SP", 75.0), ("Inlet_Valve_Open", True)]:
            self._put(tag, value)
        self.step(0.0)

    @staticmethod
    def _lag(value: float, target: float, tau: float, dt: float) -> float:
        return value + (target - value) * (1 - math.exp(-dt / tau)) if dt > 0 else value

    def step(self, dt: float) -> None:
        self.t += dt
        s, noise = self.state, self.rng.gauss
        for m in ("pump-01", "pump-02"):
            running = self._get(f"{m}.Running")
            if self._get(f"{m}.Start"):  # command bits are pulses: act, then clear
                running = not self._get(f"{m}.Faulted")
                self._put(f"{m}.Start", False)
            if self._get(f"{m}.Stop"):
                running = False
                self._put(f"{m}.Stop", False)
            sp = min(max(float(self._get(f"{m}.SpeedSetpoint")), 0.0), 3000.0)
            s[f"{m}.Speed"] = max(0.0, self._lag(s[f"{m}.Speed"], sp if running else 0.0, 2.0, dt))
            load = s[f"{m}.Speed"] / 3000.0
            s[f"{m}.BearingTempDE"] = self._lag(s[f"{m}.BearingTempDE"], 24 + 45 * load, 40.0, dt)
            s[f"{m}.BearingTempNDE"] = self._lag(s[f"{m}.BearingTempNDE"], 23 + 40 * load, 45.0, dt)
            faulted = s[f"{m}.BearingTempDE"] > 95  # bearing protection trips the drive
            if faulted:
                running = False
            self._put(f"{m}.Running", running)
            self.plc.set("discrete", _BY_TAG[f"{m}.Faulted"].address, [faulted])
            self._put(f"{m}.Speed", s[f"{m}.Speed"] + (noise(0, 1.5) if running else 0.0))
            self._put(f"{m}.Current", (6 + 40 * load * load + noise(0, 0.3)) if s[f"{m}.Speed"] > 1 else 0.0)
            self._put(f"{m}.BearingTempDE", s[f"{m}.BearingTempDE"] + noise(0, 0.05))
            self._put(f"{m}.BearingTempNDE", s[f"{m}.BearingTempNDE"] + noise(0, 0.05))
        # Tank: inlet through the valve (supply pressure varies slowly), outlet through pump-01.
        valve = self._get("Inlet_Valve_Open")
        inflow = (1.0 + 0.2 * math.sin(self.t / 20.0)) if valve else 0.0
        outflow = 1.6 * s["pump-01.Speed"] / 3000.0
        level = min(100.0, max(0.0, s["Tank_Level"] + (inflow - outflow) * dt))
        if level >= 95.0 and valve:
            valve = False  # interlock: close the inlet at high level
        elif level <= 20.0 and not valve:
            valve = True  # auto refill at low level
        if level <= 0.5:
            status = "EMPTY"
        elif not valve and level >= 90.0:
            status = "HIGH LEVEL"
        elif inflow > outflow + 0.05:
            status = "FILLING"
        else:
            status = "DRAINING" if outflow > inflow + 0.05 else "STEADY"
        self._put("Inlet_Valve_Open", valve)
        s["Tank_Level"] = level
        self._put("Tank_Level", level)
        self._put("Status_Text", status)
        # Reactor: temperature follows its setpoint with a lag; the jacket lags the reactor; pressure follows.
        sp = float(self._get("Reactor_Temp_SP"))
        s["Reactor_Temp"] = self._lag(s["Reactor_Temp"], sp, 30.0, dt)
        s["Temp_PV"] = self._lag(s["Temp_PV"], s["Reactor_Temp"] - 3.0, 10.0, dt)
        self._put("Reactor_Temp", s["Reactor_Temp"] + noise(0, 0.1))
        self._put("Temp_PV", min(150.0, max(0.0, s["Temp_PV"] + noise(0, 0.05))))
        self._put("Reactor_Pressure", min(10.0, max(0.0, 1.0 + 0.02 * (s["Reactor_Temp"] - 20) + noise(0, 0.01))))
        if self._get("pump-01.Running"):
            self.run_seconds += dt
        self._put("Run_Hours", self.run_seconds / 3600.0)
        self._put("Pump_Speed", s["pump-01.Speed"])

    async def run(self) -> None:
        self.initialise()
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.TICK)
            now = time.monotonic()
            try:
                self.step(now - last)
            except Exception:  # noqa: BLE001 - a model bug must not take the server down
                logger.exception("plcsim: process model step failed")
            last = now
