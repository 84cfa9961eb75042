"""The loop of one plain MQTT connection: JSON messages of bound topics into the values path.

drivers.connloop.ConnectionLoop's rules (lease, housekeeping, back-off, BAD on loss), as for every protocol. paho's
thread queues (topic, payload, arrival time); the loop drains the queue every FLUSH seconds, parses each message
once (orjson), and records the value at each matching binding's JSON path, stamped with the arrival time. Not JSON,
or nothing usable at the path (missing, an object or a list) → that tag BAD config_error keeping its last value.
Broker lost → every tag BAD comm_failure once; paho reconnects by itself (1 s … backoff_cap) and subscribes again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import paho.mqtt.client as mqtt

from drivers.choices import ConnectionState
from drivers.connloop import ConnectionLoop, live_last_values
from drivers.mqttjson.models import JsonPathMissing, json_path_get
from tags.choices import Quality
from tags.values import Sample

logger = logging.getLogger(__name__)

__all__ = ["MqttJsonLoop", "MqttSpec", "TopicPoint", "MqttLink", "MqttError"]

FLUSH = 0.02
COUNTERS = ("cycles", "errors", "reconnects", "writes", "messages")


class MqttError(Exception):
    """The broker could not be reached or refused the client."""


@dataclass(frozen=True)
class MqttSpec:
    id: int
    name: str
    host: str
    port: int
    tls: bool
    username: str
    password: str | None
    timeout: float
    backoff_cap: float


@dataclass(frozen=True)
class TopicPoint:
    tag_id: int
    topic: str
    json_path: str


class MqttLink:
    """One paho session: subscribes to `filters` (again after each reconnect), queues what arrives."""

    def __init__(self, spec: MqttSpec):
        self.spec = spec
        self.filters: set[str] = set()
        self.pending: deque = deque()
        self.connected = threading.Event()
        self.lost_reason: str | None = None
        self.sessions = 0
        self._started = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"kiln-mqtt-{spec.id}-{time.time_ns()}",
                                  clean_session=True)
        if spec.username:
            self.client.username_pw_set(spec.username, spec.password)
        if spec.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(spec.backoff_cap)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda c, u, m: self.pending.append((m.topic, m.payload, time.time()))

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self.lost_reason = f"the broker refused the connection: {reason_code}"
            return
        for f in sorted(self.filters):
            client.subscribe(f, qos=1)
        self.lost_reason = None
        self.sessions += 1
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.connected.clear()
        self.lost_reason = f"disconnected from the broker ({reason_code})"

    def subscribe(self, filters: set[str]) -> None:
        """Follow a new set of topic filters (on the open session, and on every later one)."""
        added, removed = filters - self.filters, self.filters - filters
        self.filters = set(filters)
        if self.connected.is_set():
            for f in sorted(removed):
                self.client.unsubscribe(f)
            for f in sorted(added):
                self.client.subscribe(f, qos=1)

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.client.connect_async(self.spec.host, self.spec.port, 10)
            self.client.loop_start()

    def take(self) -> list:
        out = []
        try:
            while True:
                out.append(self.pending.popleft())
        except IndexError:
            return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class MqttJsonLoop(ConnectionLoop):
    """Runs one plain MQTT connection until told to stop; see the module docstring."""

    COUNTERS = COUNTERS
    link_errors = (MqttError,)

    def __init__(self, spec: MqttSpec, points: list[TopicPoint], *, sink: Callable[[list[Sample]], object],
                 link: MqttLink | None = None, runtime=None,
                 last_values: Callable[[list[int]], dict] | None = live_last_values,
                 clock: Callable[[], float] = time.monotonic, counters: dict | None = None):
        self.link = link or MqttLink(spec)
        super().__init__(spec, [p.tag_id for p in points], sink=sink, runtime=runtime, last_values=last_values,
                         clock=clock, counters=counters)
        self.sessions_seen = 0
        self.replan(points)

    def replan(self, points: list[TopicPoint]) -> None:
        self.points = {p.tag_id: p for p in points}
        self.tag_ids = list(self.points)
        self.exact: dict[str, list[TopicPoint]] = {}
        self.wild: list[TopicPoint] = []
        for p in points:
            if "+" in p.topic or "#" in p.topic:
                self.wild.append(p)
            else:
                self.exact.setdefault(p.topic, []).append(p)
        self.bad = {t: s for t, s in self.bad.items() if t in self.points}
        self.link.subscribe({p.topic for p in points})

    @property
    def link_connected(self) -> bool:
        return self.link.connected.is_set()

    def _turn(self, next_housekeeping: float) -> float:
        self.step()
        return min(self.clock() + FLUSH, next_housekeeping)

    def step(self) -> None:
        if not self.link_connected:
            self.flush()
            if self.state == ConnectionState.CONNECTED:
                self._comm_failure(self.link.lost_reason or "disconnected from the broker")
            else:
                self._connect()
            return
        if self.state != ConnectionState.CONNECTED:
            self.next_connect = 0.0
            self._connect()
        elif self.link.sessions != self.sessions_seen:
            self.flush()  # the session dropped and came back between two turns: mark the gap
            self._record(self._bad_samples(self.tag_ids, "comm_failure"))
            self.reconnects += 1
            self.sessions_seen = self.link.sessions
        self.flush()

    def _open(self):
        self.link.start()
        if not self.link.connected.wait(max(0.2, self.spec.timeout)):
            raise MqttError(self.link.lost_reason or f"no answer from the broker {self.spec.host}:{self.spec.port}")

    def _opened(self, result) -> None:
        self.backoff = 0.0
        self.sessions_seen = self.link.sessions

    def _close_link(self) -> None:
        """Nothing to close: paho keeps reconnecting in its thread; the session ends with the tenure."""

    def flush(self) -> None:
        items = self.link.take()
        if not items:
            return
        samples: list[Sample] = []
        bad: dict[int, str] = {}
        for topic, payload, ts in items:
            points = self.exact.get(topic, [])
            if self.wild:
                points = points + [p for p in self.wild if mqtt.topic_matches_sub(p.topic, topic)]
            if not points:
                continue
            try:
                doc = orjson.loads(payload)
            except orjson.JSONDecodeError:
                self._note_error(f"{topic}: not JSON")
                for p in points:
                    bad[p.tag_id] = "config_error"
                continue
            for p in points:
                try:
                    value = json_path_get(doc, p.json_path)
                except JsonPathMissing:
                    value = None
                if value is None or isinstance(value, dict | list):
                    self._note_error(f"{topic}: nothing usable at '{p.json_path}'")
                    bad[p.tag_id] = "config_error"
                    continue
                bad.pop(p.tag_id, None)
                self.bad.pop(p.tag_id, None)
                samples.append(Sample(p.tag_id, value, Quality.GOOD, None, ts))
        if bad:
            samples.extend(self._bad_samples(list(bad), bad))
        self.messages += len(items)
        self.cycles += 1
        self.last_poll = time.time()
        self._record(samples)

    def _write(self, req: dict) -> dict:
        return {"status": "rejected", "detail": "MQTT JSON topics are read-only in Kiln; nothing was written"}

    def stats(self) -> dict:
        return {"protocol": "mqtt_json", **super().stats(), "messages": self.messages,
                "topics": len({p.topic for p in self.points.values()}),
                **(self.sink.stats() if hasattr(self.sink, "stats") else {}),
                "poll_ms_p50": None, "poll_ms_p99": None, "jitter_ms_p99": None, "scan_classes": []}
