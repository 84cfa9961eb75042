"""The loop of one Sparkplug B connection: the host application's messages into the values path, with Modbus' rules.

One SparkplugLoop owns one broker session (drivers.sparkplug.client) and runs in one worker process at a time (the
Redis lease). paho's network thread decodes each message and runs the host logic (drivers.sparkplug.host); the
loop empties the queue every FLUSH seconds (and whenever a write wakes it) and hands what bound tags received to
the sink (drivers.services.VALUE_OUTBOX → tags.values.tag_values_record), one call per flush.

Faults:
- broker unreachable or session lost → every tag of the connection BAD comm_failure with its last value and time
  (one batch, once per outage); paho reconnects with back-off, and each known edge node is asked for a rebirth;
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
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from drivers.choices import ConnectionState
from drivers.connloop import HOUSEKEEPING_EVERY, live_last_values
from drivers.rates import RateMeter
from drivers.sparkplug.client import SparkplugClient
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


def _client_for(spec: SparkplugSpec) -> SparkplugClient:
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


class SparkplugLoop(SparkplugWrites):
    """Runs one Sparkplug B connection until told to stop; see the module docstring for the rules."""

    def __init__(self, spec: SparkplugSpec, points: list[MetricPoint], *, sink: Callable[[list[Sample]], object],
                 client: SparkplugClient | None = None, runtime=None,
                 last_values: Callable[[list[int]], dict] | None = live_last_values,
                 discover: Callable[[int, dict], None] | None = _discovered_upsert,
                 clock: Callable[[], float] = time.monotonic, counters: dict | None = None):
        self.spec = spec
        self.sink = sink
        self.client = client
        self.runtime = runtime
        self.last_values = last_values
        self.discover = discover
        self.clock = clock
        self.skew = float(settings.KILN_OPCUA_CLOCK_SKEW)
        self.state = ConnectionState.CONNECTING
        self.sessions_seen = 0
        self.started_mono = clock()
        self.bad: dict[int, str] = {}
        self.last_sent: dict[int, tuple] = {}
        self.discovered: dict = {}
        self.to_discover: dict = {}
        self.next_discovery = 0.0
        for name in COUNTERS:
            setattr(self, name, int((counters or {}).get(name) or 0))
        self.rate = RateMeter()
        self.last_poll: float | None = None
        self.last_error = ""
        self.last_error_at: float | None = None
        self.started_at = time.time()
        self.version_seen: bytes | None = None
        self.version_known = False
        self._plain_sleep_until = 0.0
        self.watch: dict[int, list] = {}  # tag id → values that arrived while a write waits (drivers.sparkplug.writes)
        self.replan(points)

    def replan(self, points: list[MetricPoint]) -> None:
        """New bindings on the same broker session (no reconnect): a configuration change that kept the broker.

        A newly bound metric has no value in Kiln yet: its node is asked for a rebirth, whose values are current.
        """
        old = {(p.node, p.device, p.metric) for p in getattr(self, "points", {}).values()}
        fresh = sorted({p.node for p in points if (p.node, p.device, p.metric) not in old})
        if self.client is not None and self.client.connected.is_set():
            for node in fresh:
                self.client.request_rebirth(self.spec.group_id, node, limit=False)
        self.points = {p.tag_id: p for p in points}
        # Keyed like the host's values (MetricKey), so the hot loop looks each value up without building a key.
        self.by_key = {MetricKey(self.spec.group_id, p.node, p.device, p.metric): p.tag_id for p in points}
        self.tag_ids = list(self.points)
        self.bad = {t: s for t, s in self.bad.items() if t in self.points}

    # --- the loop ---------------------------------------------------------------------------------------------
    def run(self, *, until: float | None = None, version: bytes | None = None, version_known: bool = False,
            should_stop: Callable[[], bool] | None = None) -> str:
        """Run until a reason to stop: 'tenure', 'lease_lost', 'reconfigure', 'stopping'."""
        self.version_seen, self.version_known = version, version_known
        next_housekeeping = self.clock()
        try:
            while True:
                now = self.clock()
                if should_stop is not None and should_stop():
                    return "stopping"
                if now >= next_housekeeping:
                    reason = self._housekeeping()
                    if reason:
                        return reason
                    next_housekeeping = now + HOUSEKEEPING_EVERY
                self.step()
                now = self.clock()
                if until is not None and now >= until:
                    return "tenure"
                self._wait(min(FLUSH, next_housekeeping - now))
        finally:
            self._publish_stats_quietly()

    def step(self) -> None:
        """Start the session, notice a lost or new one, record what arrived. Public so tests can step by hand."""
        if self.client is None:
            self.client = _client_for(self.spec)
            self.client.start()
        connected = self.client.connected.is_set()
        if connected and self.client.sessions != self.sessions_seen:
            self._session_started()
        self.flush()
        self.client.rebirths_due()
        if not connected and self.state != ConnectionState.BACKOFF and (
                self.sessions_seen or self.clock() - self.started_mono > max(2.0, 2 * self.spec.timeout)):
            self._comm_failure(self.client.lost_reason or f"no answer from the broker {self.spec.host}:"
                                                          f"{self.spec.port}")

    def _session_started(self) -> None:
        if self.sessions_seen:
            self.reconnects += 1
        self.sessions_seen = self.client.sessions
        self.state = ConnectionState.CONNECTED
        if self.client.sessions == 1:
            # Kiln's picture of the nodes starts empty: ask each node a binding names for its birth now, rather
            # than waiting for its next data message (a node that changes rarely would stay unknown for long).
            for node in sorted({p.node for p in self.points.values()}):
                self.client.request_rebirth(self.spec.group_id, node, limit=False)
        logger.info("Connection %s: connected to %s:%s as host %s (group %s)", self.spec.name, self.spec.host,
                    self.spec.port, self.spec.host_id, self.spec.group_id)

    def flush(self) -> list[Sample]:
        outcomes = self.client.take() if self.client is not None else []
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

    def _record(self, samples: list[Sample]) -> None:
        if not samples:
            return
        try:
            self.sink(samples)
            self.rate.add(len(samples))
        except Exception as exc:  # noqa: BLE001 - a failing recorder is reported, the loop goes on
            self._note_error(f"recording values failed: {exc}")
            logger.exception("Connection %s: recording %d samples failed", self.spec.name, len(samples))

    def _wait(self, timeout: float) -> None:
        if timeout <= 0:
            return
        if self.runtime is None or self.clock() < self._plain_sleep_until:
            time.sleep(timeout)
            return
        try:
            if self.runtime.wait(timeout):
                self.handle_writes()
        except Exception:  # noqa: BLE001 - Redis trouble must not stop the loop; plain sleeps for a while
            logger.exception("Connection %s: waiting on Redis failed; plain sleeps for 5 s", self.spec.name)
            self._plain_sleep_until = self.clock() + 5.0
            self.runtime.close()

    # --- faults -----------------------------------------------------------------------------------------------
    def _comm_failure(self, reason: str) -> None:
        was = self.state
        self.state = ConnectionState.BACKOFF
        self._note_error(reason)
        newly_bad = [t for t in self.tag_ids if self.bad.get(t) != "comm_failure"]
        if newly_bad:
            self._record(self._bad_samples(newly_bad, "comm_failure"))
        if newly_bad or was == ConnectionState.CONNECTED:
            logger.warning("Connection %s: %s; %d tags BAD, reconnecting with back-off", self.spec.name, reason,
                           len(newly_bad))

    def _bad_samples(self, tag_ids: list[int], substatus: str) -> list[Sample]:
        """BAD samples that keep each tag's last value and its timestamp (from the live table)."""
        last = {}
        if self.last_values is not None:
            try:
                last = self.last_values(tag_ids)
            except Exception:  # noqa: BLE001 - without the last value the tag is still BAD, value unknown
                logger.exception("Connection %s: reading last values failed", self.spec.name)
        now = time.time()
        out = []
        for tid in tag_ids:
            value, ts = last.get(tid, (None, now))
            out.append(Sample(tid, value, Quality.BAD, substatus, ts))
            self.bad[tid] = substatus
            self.last_sent[tid] = (value, Quality.BAD, ts)
        return out

    def _note_error(self, text: str) -> None:
        self.errors += 1
        self.last_error = text[:300]
        self.last_error_at = time.time()

    # --- housekeeping: lease, configuration, stats --------------------------------------------------------------
    def stats(self) -> dict:
        host = self.client.host_app if self.client is not None else None
        return {
            "protocol": "sparkplug",
            "state": str(self.state),
            "worker": f"{getattr(self.runtime, 'hostname', '')}:{os.getpid()}",
            "since": self.started_at,
            "last_poll": self.last_poll,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            **self.counters(),
            "overruns": 0,
            "tags": len(self.tag_ids),
            "tags_bad": len(self.bad),
            "values_per_s": self.rate.rate(),
            "nodes_online": sum(1 for n in host.nodes.values() if n.online) if host else 0,
            "nodes_known": len(host.nodes) if host else 0,
            "rebirths_requested": self.client.rebirths_requested if self.client is not None else 0,
            "metrics_discovered": len(self.discovered),
            **(self.sink.stats() if hasattr(self.sink, "stats") else {}),
            "poll_ms_p50": None,
            "poll_ms_p99": None,
            "jitter_ms_p99": None,
            "scan_classes": [],
        }

    def counters(self) -> dict:
        return {name: getattr(self, name) for name in COUNTERS}

    def _housekeeping(self) -> str | None:
        if self.runtime is None:
            return None
        try:
            ours, version, stopping = self.runtime.housekeeping(self.stats())
        except Exception:  # noqa: BLE001 - Redis down: keep going; values are held by the outbox
            logger.exception("Connection %s: housekeeping failed", self.spec.name)
            return None
        if not ours:
            logger.warning("Connection %s: lease lost; another worker runs it now", self.spec.name)
            return "lease_lost"
        if stopping:
            return "stopping"
        if not self.version_known:
            self.version_seen, self.version_known = version, True
        elif version != self.version_seen:
            return "reconfigure"
        self.handle_writes()
        return None

    def _publish_stats_quietly(self) -> None:
        if self.runtime is None:
            return
        try:
            self.runtime.housekeeping(self.stats())
        except Exception:  # noqa: BLE001
            logger.debug("Connection %s: final stats not published", self.spec.name, exc_info=True)
