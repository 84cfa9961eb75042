"""A Sparkplug B edge node (paho-mqtt): the demo plant for `manage.py sparkplugsim`, and a real peer for tests.

`EdgeNode` is a Sparkplug 3.0 edge node on a broker: NBIRTH (seq 0, bdSeq, every node metric with an alias),
one DBIRTH per device, NDATA/DDATA by alias with seq 1…255 wrapping, an NDEATH will with the session's bdSeq,
and the commands a host sends: "Node Control/Rebirth" (births again) and metric writes by NCMD/DCMD, applied
and answered with the new value (as a real edge node reports by exception). Tests also crash it (the will
fires), skip seq numbers, publish raw bytes, and clamp or ignore written values.

`DemoEdge` runs the Modbus simulator's process model (drivers.plcsim.DemoProcess) on an in-memory register
image and publishes its changes every tick: node metrics for the plant, one device per pump.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from drivers.plcsim import DEMO_MAP, DemoProcess
from drivers.sparkplug.host import NAMESPACE, REBIRTH_METRIC
from drivers.sparkplug.payload import DataType, Metric, Payload, PayloadError, decode_payload, encode_payload

logger = logging.getLogger(__name__)

__all__ = ["EdgeNode", "DemoEdge", "DEMO_DEVICES", "DEMO_NODE_METRICS", "demo_layout"]


class EdgeNode:
    """One edge node and its devices. metrics: {device or "": {name: (datatype, value, writable)}}."""

    def __init__(self, *, group: str, node: str, metrics: dict[str, dict[str, tuple]], host: str = "127.0.0.1",
                 port: int = 1883, client_id: str | None = None):
        self.group, self.node = group, node
        self.metrics = {dev: dict(ms) for dev, ms in metrics.items()}
        self.aliases = {}  # (device, name) → alias
        for dev, ms in self.metrics.items():
            for name in ms:
                self.aliases[(dev, name)] = len(self.aliases) + 1
        self.address = (host, port)
        self.seq = 0
        self.bdseq = -1
        self.lock = threading.Lock()
        self.commands: list[tuple[str, Metric]] = []  # (device, metric) as received
        self.writes: list[tuple[str, str, object]] = []  # (device, name, value) applied
        self.clamp: dict[tuple[str, str], tuple[float, float]] = {}
        self.ignore_writes = False
        self.births = 0
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"edge-{node}-{uuid.uuid4().hex[:6]}")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()

    def topic(self, kind: str, device: str = "") -> str:
        return f"{NAMESPACE}/{self.group}/{kind}/{self.node}" + (f"/{device}" if device else "")

    # --- session -------------------------------------------------------------------------------------------------
    def start(self, timeout: float = 5.0) -> EdgeNode:
        self.bdseq = (self.bdseq + 1) % 256
        death = encode_payload(Payload(timestamp=_ms(), metrics=[Metric(name="bdSeq", datatype=DataType.INT64,
                                                                        value=self.bdseq)]))
        self.client.will_set(self.topic("NDEATH"), death, qos=1)
        self.client.connect(*self.address, keepalive=5)
        self.client.loop_start()
        if not self.subscribed.wait(timeout):
            raise RuntimeError("edge node: no SUBACK from the broker")
        self.birth()
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        client.subscribe([(self.topic("NCMD"), 1), (f"{NAMESPACE}/{self.group}/DCMD/{self.node}/+", 1)])

    def crash(self) -> None:
        """Drop the socket without DISCONNECT: the broker publishes the will (NDEATH)."""
        self.client.loop_stop()
        self.client.socket().close()

    def stop(self) -> None:
        """A clean end: NDEATH published by the node itself, then DISCONNECT."""
        death = encode_payload(Payload(timestamp=_ms(), metrics=[Metric(name="bdSeq", datatype=DataType.INT64,
                                                                        value=self.bdseq)]))
        self.client.publish(self.topic("NDEATH"), death, qos=1).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    # --- publishing ----------------------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq

    def birth(self) -> None:
        with self.lock:
            self.seq = 0
            ts = _ms()
            node_metrics = [Metric(name="bdSeq", datatype=DataType.INT64, value=self.bdseq),
                            Metric(name=REBIRTH_METRIC, datatype=DataType.BOOLEAN, value=False)]
            node_metrics += self._declared("", ts)
            self._publish("NBIRTH", "", Payload(timestamp=ts, seq=0, metrics=node_metrics))
            for dev in self.metrics:
                if dev:
                    self._publish("DBIRTH", dev, Payload(timestamp=ts, seq=self._next_seq(),
                                                         metrics=self._declared(dev, ts)))
            self.births += 1

    def _declared(self, device: str, ts: int) -> list[Metric]:
        return [Metric(name=name, alias=self.aliases[(device, name)], datatype=dt, value=value, timestamp=ts)
                for name, (dt, value, _) in self.metrics.get(device, {}).items()]

    def set(self, values: dict[str, object], device: str = "", *, skip_seq: int = 0) -> None:
        """Publish new values (NDATA/DDATA by alias). `skip_seq` leaves that many seq numbers out (a lost message)."""
        with self.lock:
            ts = _ms()
            out = []
            for name, value in values.items():
                dt, _, writable = self.metrics[device][name]
                self.metrics[device][name] = (dt, value, writable)
                out.append(Metric(alias=self.aliases[(device, name)], datatype=dt, value=value, timestamp=ts))
            self.seq = (self.seq + skip_seq) % 256
            self._publish("DDATA" if device else "NDATA", device,
                          Payload(timestamp=ts, seq=self._next_seq(), metrics=out))

    def publish_raw(self, kind: str, payload: bytes, device: str = "") -> None:
        self.client.publish(self.topic(kind, device), payload, qos=1).wait_for_publish(5)

    def _publish(self, kind: str, device: str, payload: Payload) -> None:
        self.client.publish(self.topic(kind, device), encode_payload(payload), qos=1)

    # --- commands ------------------------------------------------------------------------------------------------
    def _on_message(self, client, userdata, msg):
        parts = msg.topic.split("/")
        device = parts[4] if len(parts) > 4 else ""
        try:
            payload = decode_payload(msg.payload)
        except PayloadError:
            logger.warning("edge node %s: malformed command on %s", self.node, msg.topic)
            return
        for m in payload.metrics:
            self.commands.append((device, m))
            if not device and m.name == REBIRTH_METRIC and m.value is True:
                self.birth()
            elif m.name in self.metrics.get(device, {}):
                self._apply(device, m)

    def _apply(self, device: str, m: Metric) -> None:
        dt, _, writable = self.metrics[device][m.name]
        if not writable or self.ignore_writes:
            return
        value = m.value
        if (device, m.name) in self.clamp and isinstance(value, int | float):
            low, high = self.clamp[(device, m.name)]
            value = min(max(value, low), high)
        self.writes.append((device, m.name, value))
        self.set({m.name: value}, device)


def _ms() -> int:
    return int(time.time() * 1000)


# --- the demo plant ---------------------------------------------------------------------------------------------------

def _demo_type(e) -> int:
    if e.data_type == "bool":
        return DataType.BOOLEAN
    if e.data_type == "string":
        return DataType.STRING
    if e.tag == "Run_Hours":
        return DataType.UINT32
    return DataType.DOUBLE if e.scaling else DataType.FLOAT


def demo_layout() -> dict[str, dict[str, tuple]]:
    """The demo plant as Sparkplug metrics: {device: {metric: (datatype, initial value, writable)}}.

    A pump (`pump-01.Speed`) is a device with its members as metrics; the rest are metrics of the node itself.
    Writable: what the Modbus simulator's coils and holding registers are.
    """
    out: dict[str, dict[str, tuple]] = {"": {}}
    for e in DEMO_MAP:
        device, _, name = e.tag.rpartition(".")
        dt = _demo_type(e)
        initial = {DataType.BOOLEAN: False, DataType.STRING: "", DataType.UINT32: 0}.get(dt, 0.0)
        out.setdefault(device, {})[name] = (dt, initial, e.table in ("coil", "holding"))
    return out


DEMO_DEVICES = sorted(d for d in demo_layout() if d)
DEMO_NODE_METRICS = sorted(demo_layout()[""])


class _RegisterImage:
    """The part of drivers.plcsim.SimulatedPlc that DemoProcess uses (get/set), on plain lists."""

    def __init__(self, size: int = 200):
        self.tables = {t: [0] * size for t in ("holding", "input")} | {t: [False] * size for t in ("coil", "discrete")}

    def get(self, table: str, address: int, count: int = 1) -> list:
        return list(self.tables[table][address:address + count])

    def set(self, table: str, address: int, values: list) -> None:
        bits = table in ("coil", "discrete")
        for i, v in enumerate(values):
            self.tables[table][address + i] = bool(v) if bits else int(v) & 0xFFFF


class DemoEdge(EdgeNode):
    """The demo plant's process model behind an edge node (see the module docstring)."""

    def __init__(self, *, group: str = "kiln-demo", node: str = "plant", seed: int | None = None, **kw):
        self.process = DemoProcess(_RegisterImage(), seed=seed)
        self.process.initialise()
        layout = demo_layout()
        for device, metrics in layout.items():
            for name, (dt, _, writable) in metrics.items():
                metrics[name] = (dt, self._read(device, name, dt), writable)
        super().__init__(group=group, node=node, metrics=layout, **kw)

    def _read(self, device: str, name: str, dt: int):
        value = self.process._get(f"{device}.{name}" if device else name)
        if dt == DataType.UINT32:
            return int(value)
        if dt in (DataType.FLOAT, DataType.DOUBLE):
            return float(value)
        return value

    def _apply(self, device: str, m: Metric) -> None:
        dt, _, writable = self.metrics[device][m.name]
        if writable:
            # The plant takes it on its next tick, which publishes the new value (as a PLC reports by exception).
            self.process._put(f"{device}.{m.name}" if device else m.name, m.value)
            self.writes.append((device, m.name, m.value))

    def tick(self, dt: float) -> int:
        """Step the model and publish what changed (one NDATA, one DDATA per device that changed)."""
        self.process.step(dt)
        sent = 0
        for device, metrics in self.metrics.items():
            changed = {}
            for name, (datatype, old, _) in metrics.items():
                new = self._read(device, name, datatype)
                if datatype == DataType.FLOAT:
                    from drivers.codec import float32_shortest

                    new = float32_shortest(new)
                if new != old:
                    changed[name] = new
            if changed:
                self.set(changed, device)
                sent += len(changed)
        return sent

    def run(self, stop: threading.Event | None = None) -> None:
        last = time.monotonic()
        while stop is None or not stop.is_set():
            time.sleep(self.process.TICK)
            now = time.monotonic()
            try:
                self.tick(now - last)
            except Exception:  # noqa: BLE001 - a model bug must not take the edge node down
                logger.exception("sparkplugsim: process model step failed")
            last = now
