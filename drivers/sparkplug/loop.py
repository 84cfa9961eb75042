"""The loop of one Sparkplug B connection: the host application's messages into the values path, with Modbus' rules.

One SparkplugLoop owns one broker session (drivers.sparkplug.client) and runs in one worker process at a time (the
Redis lease). paho's network thread decodes each message and runs the host logic (drivers.sparkplug.host); the
loop empties the queue every FLUSH seconds (and whenever a write wakes it) and hands what bound tags received to
the sink (drivers.services.VALUE_OUTBOX → tags.values.tag_values_record), one call per flush.

The lease, housekeeping, back-off, BAD on loss and the write hand-over are drivers.connloop.ConnectionLoop's, as
for Modbus and OPC UA. Faults:
- broker unreachable or session lost → every tag of the connection BAD comm_failure with its last value and time
  (one batch, once per outage); paho keeps reconnecting (1 s … backoff_cap) and on the new session each known
  edge node is asked for a rebirth (what was published meanwhile is unknown);
- NDEATH (or the node's will), DDEATH, a sequence gap, an unknown alias or a malformed payload → that node's (or
  device's) tags BAD, a rebirth asked (drivers.sparkplug.host), data ignored until the birth;
- nothing is recorded twice: a QoS 1 redelivery (same seq) is dropped by the host, and a sample equal in value,
  quality and time to the last one handed over for its tag is not handed over again (a rebirth re-declaring
  unchanged values is, besides, no change for the values service).
Metrics declared by births go to DiscoveredMetric (one upsert per metric and run), never to tags by themselves.
Writes (drivers.writes) go out between flushes as NCMD/DCMD at QoS 1, never retried; the next value of the
metric confirms them (drivers.sparkplug.writes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from drivers.choices import ConnectionState
from drivers.connloop import ConnectionLoop, live_last_values
from drivers.sparkplug.client import SparkplugClient, SparkplugError
from drivers.sparkplug.host import MetricKey
from drivers.sparkplug.writes import SparkplugWrites
from tags.choices import Quality
from tags.values import Sample

logger = logging.getLogger(__name__)

__all__ = ["SparkplugLoop", "SparkplugSpec", "MetricPoint", "FLUSH"]

FLUSH = 0.02  # seconds between drains of the message queue: bounds the added latency, 50 wake-ups a second
DISCOVERY_EVERY = 1.0  # seconds between upserts of newly discovered metrics (a rebirth storm is one write)
COUNTERS = ("cycles", "errors", "reconnects", "writes", "messages", "duplicates", "time_replaced")


@dataclass(frozen=True)
class SparkplugSpec:
    id: int
    name: str
    host: str
    port: int
    tls: bool
    username: str
    password: str | None
    group_id: str
    host_id: str
    timeout: float
    backoff_cap: float


@dataclass(frozen=True)
class MetricPoint:
    tag_id: int
    name: str
    node: str
    device: str
    metric: str
    datatype: int


def client_for(spec: SparkplugSpec) -> SparkplugClient:
    return SparkplugClient(host=spec.host, port=spec.port, group=spec.group_id, host_id=spec.host_id,
                           username=spec.username, password=spec.password, tls=spec.tls,
                           backoff_cap=spec.backoff_cap)


def _discovered_upsert(connection_id: int, found: dict) -> None:
    from django.utils import timezone

    from drivers.models import DiscoveredMetric

    now = timezone.now()
    rows = [DiscoveredMetric(connection_id=connection_id, edge_node=k.node, device=k.device, metric=k.metric[:255],
                             datatype=dt, last_seen=now) for k, dt in found.items()]
    DiscoveredMetric.objects.bulk_create(rows, update_conflicts=True, batch_size=1000,
                                         unique_fields=["connection", "edge_node", "device", "metric"],
                                         update_fields=["datatype", "last_seen", "last_updated"])


class SparkplugLoop(SparkplugWrites, ConnectionLoop):
    """Runs one Sparkplug B connection until told to stop; see the module docstring (and drivers.connloop)."""

    COUNTERS = COUNTERS
    link_errors = (SparkplugError,)
    lease_lost_message = "Connection %s: lease lost; another worker runs it now"

    def __init__(self, spec: SparkplugSpec, points: list[MetricPoint], *, sink: Callable[[list[Sample]], object],
                 client: SparkplugClient | None = None, runtime=None,
                 last_values: Callable[[list[int]], dict] | None = live_last_values,
                 discover: Callable[[int, dict], None] | None = _discovered_upsert,
                 clock: Callable[[], float] = time.monotonic, counters: dict | None = None):
        self.client = client or client_for(spec)
        self.spec = spec
        self.points: dict[int, MetricPoint] = {}
        self.last_sent: dict[int, tuple] = {}
        self.watch: dict[int, list] = {}  # tag id → values that arrived while a write waits (drivers.sparkplug.writes)
        super().__init__(spec, [p.tag_id for p in points], sink=sink, runtime=runtime, last_values=last_values,
                         clock=clock, counters=counters)
        self.discover = discover
        self.skew = float(settings.KILN_OPCUA_CLOCK_SKEW)
        self.sessions_seen = 0
        self.discovered: dict = {}
        self.to_discover: dict = {}
        self.next_discovery = 0.0
        self.replan(points)

    def replan(self, points: list[MetricPoint]) -> None:
        """New bindings on the same broker session (no reconnect): a configuration change that kept the broker.

        A newly bound metric has no value in Kiln yet: its node is asked for a rebirth, whose values are current.
        """
        old = {(p.node, p.device, p.metric) for p in self.points.values()}
        fresh = sorted({p.node for p in points if (p.node, p.device, p.metric) not in old})
        if self.sessions_seen and self.link_connected:  # not the first plan: the first session asks by itself
            self.flush()  # what arrived under the old bindings is recorded under them
            for node in fresh:
                self.client.request_rebirth(self.spec.group_id, node, limit=False)
        self.points = {p.tag_id: p for p in points}
        # Keyed like the host's values (MetricKey), so the hot loop looks each value up without building a key.
        self.by_key = {MetricKey(self.spec.group_id, p.node, p.device, p.metric): p.tag_id for p in points}
        self.tag_ids = list(self.points)
        self.bad = {t: s for t, s in self.bad.items() if t in self.points}

    # --- the loop (drivers.connloop.ConnectionLoop.run calls these) -------------------------------------------------
    @property
    def link_connected(self) -> bool:
        return self.client.connected.is_set()

    def run(self, **kwargs) -> str:
        reason = super().run(**kwargs)
        # At a hand-over to the successor loop Kiln stays online: edge nodes that take it for their primary host
        # would otherwise go offline (and their tags BAD) for the moment between the two loops.
        self.client.handing_over = reason == "tenure"
        return reason

    def _turn(self, next_housekeeping: float) -> float:
        self.step()
        return min(self.clock() + FLUSH, next_housekeeping)

    def step(self) -> None:
        """Notice a lost or new session, record what arrived, send due rebirth requests. Public for tests."""
        if not self.link_connected:
            self.flush()  # what arrived before the loss is recorded before the tags turn BAD
            if self.state == ConnectionState.CONNECTED:
                self._comm_failure(self.client.lost_reason or "disconnected from the broker")
            else:
                self._connect()  # when due: paho keeps trying meanwhile; this notices its success or says why not
            return
        if self.state != ConnectionState.CONNECTED:
            self.next_connect = 0.0  # paho got there by itself between two attempts: take it now
            self._connect()
        elif self.client.sessions != self.sessions_seen:
            # The session dropped and came back between two turns: what was published meanwhile is unknown.
            self.flush()
            self._record(self._bad_samples(self.tag_ids, "comm_failure"))
            self.reconnects += 1
            self._opened(None)
        self.flush()
        self.client.rebirths_due()

    def _open(self):
        self.client.start()  # once; paho then reconnects by itself with back-off
        if not self.client.connected.wait(max(0.2, self.spec.timeout)):
            raise SparkplugError(self.client.lost_reason or f"no answer from the broker {self.spec.host}:"
                                                            f"{self.spec.port}")

    def _opened(self, result) -> None:
        self.backoff = 0.0
        first = self.sessions_seen == 0
        self.sessions_seen = self.client.sessions
        if first:
            # Kiln's picture of the nodes starts empty: ask each node a binding names for its birth now, rather
            # than waiting for its next data message (a node that changes rarely would stay unknown for long).
            for node in sorted({p.node for p in self.points.values()}):
                self.client.request_rebirth(self.spec.group_id, node, limit=False)
        logger.info("Connection %s: connected to %s:%s as host %s (group %s)", self.spec.name, self.spec.host,
                    self.spec.port, self.spec.host_id, self.spec.group_id)

    def _close_link(self) -> None:
        """Nothing to close: paho keeps reconnecting in its thread; the session ends with the loop (close())."""

    def _bad_samples(self, tag_ids: list[int], substatus) -> list[Sample]:
        out = super()._bad_samples(tag_ids, substatus)
        for s in out:
            self.last_sent[s.tag_id] = (s.value, s.quality, s.ts)  # a later GOOD at the same time is a change
        return out

    def flush(self) -> list[Sample]:
        outcomes = self.client.take()
        if not outcomes:
            if self.to_discover and self.clock() >= self.next_discovery:
                self._discover()
            return []
        now = time.time()
        samples: list[Sample] = []
        by_key, bad, last_sent, watch = self.by_key, self.bad, self.last_sent, self.watch
        skew, replaced, duplicates = self.skew, 0, 0
        for o in outcomes:
            for key, value, quality, sub, ts in o.values:
                tid = by_key.get(key)
                if tid is None:
                    continue
                if quality == Quality.GOOD:
                    if abs(ts - now) > skew:  # an edge node whose clock is off: Kiln's receive time instead
                        ts = now
                        replaced += 1
                    if bad:
                        bad.pop(tid, None)
                else:
                    bad[tid] = sub
                sent = (value, quality, ts)
                if last_sent.get(tid) == sent:
                    duplicates += 1
                    continue
                last_sent[tid] = sent
                samples.append(Sample(tid, value, quality, sub, ts))
                if watch and tid in watch:
                    watch[tid].append((value, quality))
            for key, value, ts in o.historical:
                tid = by_key.get(key)
                if tid is not None:
                    # Stated time, kept as sent: the values service files it in history (a backfill when older
                    # than the live value) without moving the tag's present value back.
                    samples.append(Sample(tid, value, Quality.GOOD, None, ts, stated_time=True))
            if o.births:
                for key, datatype in o.births:
                    # "Node Control/*" metrics are the node's commands to its host (rebirth, reboot), not values.
                    if self.discovered.get(key) != datatype and not key.metric.startswith("Node Control/"):
                        self.to_discover[key] = datatype
            if o.errors:
                self.errors += len(o.errors)
                self.last_error, self.last_error_at = o.errors[-1][:300], now
        self.messages += len(outcomes)
        self.time_replaced += replaced
        self.duplicates += duplicates
        self.cycles += 1
        self.last_poll = now
        self._record(samples)
        if self.to_discover and self.clock() >= self.next_discovery:
            self._discover()
        return samples

    def _discover(self) -> None:
        found, self.to_discover = self.to_discover, {}
        self.next_discovery = self.clock() + DISCOVERY_EVERY
        if self.discover is None:
            return
        try:
            self.discover(self.spec.id, found)
        except Exception as exc:  # noqa: BLE001 - discovery is a convenience: values still flow
            self._note_error(f"saving discovered metrics failed: {exc}")
            logger.exception("Connection %s: saving %d discovered metrics failed", self.spec.name, len(found))
            return
        self.discovered.update(found)

    # --- stats --------------------------------------------------------------------------------------------------
    def stats(self) -> dict:
        host = self.client.host_app
        return {
            "protocol": "sparkplug",
            **super().stats(),
            **self.counters(),
            "nodes_online": sum(1 for n in list(host.nodes.values()) if n.online),
            "nodes_known": len(host.nodes),
            "rebirths_requested": self.client.rebirths_requested,
            "metrics_discovered": len(self.discovered),
            **(self.sink.stats() if hasattr(self.sink, "stats") else {}),
            "poll_ms_p50": None,
            "poll_ms_p99": None,
            "jitter_ms_p99": None,
            "scan_classes": [],
        }
