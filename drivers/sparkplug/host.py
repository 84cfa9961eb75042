"""A Sparkplug B host application's view of its edge nodes: births, aliases, sequence numbers, deaths.

Pure logic, no MQTT (issue 17's MQTT part, second piece): `SparkplugHost.handle(topic, payload)` takes one
message of `spBv1.0/<group>/#` and answers what it means for Kiln, as an `Outcome`:

- `values`: (MetricKey, value, quality, sub-status, time in epoch seconds) to record. A metric is identified by
  (group, edge node, device or "", metric name) whether the message names it or uses its birth's alias;
- `rebirth`: edge nodes to send an NCMD "Node Control/Rebirth" = true (a data message from a node with no birth
  on record, an unknown alias, a sequence gap, a malformed payload: Kiln's picture of that node is unsure);
- `errors`: what was wrong, for the connection's status;
- `births`: (MetricKey, Sparkplug datatype) of every metric a birth declared, for discovery;
- `historical`: (MetricKey, value, time) of metrics flagged is_historical (store and forward): past values.

Rules (Sparkplug 3.0): NBIRTH carries seq 0 and a bdSeq metric, and declares every node metric with name,
alias and datatype; DBIRTH declares a device's metrics; NDATA/DDATA continue the node's seq (0–255, wrapping);
NDEATH (also the broker's delivery of the node's will) ends the node when its bdSeq is the birth's — an NDEATH
from an older session is stale and ignored; DDEATH ends one device. On a death every metric of the node (or
device) is BAD comm_failure, keeping its last value and time; on a gap or bad payload they turn BAD too until
the rebirth arrives, so a value Kiln is unsure of is never shown GOOD.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

from drivers.sparkplug.payload import Metric, PayloadError, decode_payload

__all__ = ["MetricKey", "Outcome", "SparkplugHost", "NAMESPACE", "REBIRTH_METRIC"]

NAMESPACE = "spBv1.0"
REBIRTH_METRIC = "Node Control/Rebirth"
BDSEQ_METRIC = "bdSeq"


class MetricKey(NamedTuple):
    group: str
    node: str
    device: str
    metric: str


@dataclass
class Outcome:
    values: list[tuple] = field(default_factory=list)  # (MetricKey, value, quality, substatus, ts)
    rebirth: list[tuple[str, str]] = field(default_factory=list)  # (group, node)
    errors: list[str] = field(default_factory=list)
    births: list[tuple] = field(default_factory=list)  # (MetricKey, datatype)
    historical: list[tuple] = field(default_factory=list)  # (MetricKey, value, ts): store-and-forward, past values


@dataclass
class _Node:
    bdseq: int | None = None
    seq: int = 0
    online: bool = False
    aliases: dict[tuple[str, int], str] = field(default_factory=dict)  # (device, alias) → metric name
    metrics: dict[tuple[str, str], tuple[object, float]] = field(default_factory=dict)  # (device, name) → last
    devices: set[str] = field(default_factory=set)
    seen_data: bool = False  # a data message followed the birth (a repeated seq 0 right after it is a gap)


class SparkplugHost:
    """Keeps one host application's state of every edge node of a group (see the module docstring)."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.nodes: dict[tuple[str, str], _Node] = {}

    def lost_contact(self) -> list[tuple[str, str]]:
        """The host's broker session ended: whatever was published meanwhile is unknown, so every node needs a
        new birth before its data counts again (their metrics are marked BAD by the connection's loop).
        Returns the nodes known so far, to ask each for a rebirth once the session is back."""
        for node in self.nodes.values():
            node.online = False
        return list(self.nodes)

    def handle(self, topic: str, payload: bytes) -> Outcome:
        out = Outcome()
        parts = topic.split("/")
        if len(parts) < 4 or parts[0] != NAMESPACE or parts[1] == "STATE":
            return out  # not an edge node's message (another host's STATE, another namespace)
        group, kind, node_id = parts[1], parts[2], parts[3]
        device = parts[4] if len(parts) > 4 else ""
        key = (group, node_id)
        node = self.nodes.setdefault(key, _Node())
        try:
            p = decode_payload(payload)
        except PayloadError as exc:
            out.errors.append(f"{topic}: malformed payload ({exc})")
            if kind in ("NDATA", "DDATA", "NBIRTH", "DBIRTH"):
                self._unsure(out, group, node_id, node, "config_error")
            return out
        if kind == "NBIRTH":
            self._birth(out, group, node_id, node, p)
        elif kind == "DBIRTH":
            if self._in_sequence(out, topic, group, node_id, node, p):
                self._device_birth(out, group, node_id, node, device, p)
        elif kind in ("NDATA", "DDATA"):
            if self._in_sequence(out, topic, group, node_id, node, p):
                self._data(out, topic, group, node_id, node, device, p)
        elif kind == "NDEATH":
            bd = next((m.value for m in p.metrics if m.name == BDSEQ_METRIC), None)
            if node.online and (bd is None or bd == node.bdseq):
                node.online = False
                self._bad(out, group, node_id, node, None, "comm_failure")
        elif kind == "DDEATH":
            if node.online and device in node.devices:
                node.devices.discard(device)
                self._bad(out, group, node_id, node, device, "comm_failure")
        return out

    # --- births and data ------------------------------------------------------------------------------------
    def _birth(self, out: Outcome, group: str, node_id: str, node: _Node, p) -> None:
        if p.seq not in (0, None):
            out.errors.append(f"{group}/{node_id}: NBIRTH with seq {p.seq} (must be 0)")
        node.bdseq = next((m.value for m in p.metrics if m.name == BDSEQ_METRIC), None)
        node.seq = p.seq or 0
        node.online = True
        node.seen_data = False
        node.aliases = {k: v for k, v in node.aliases.items() if k[0] != ""}
        node.devices.clear()
        self._declare(out, group, node_id, node, "", p)

    def _device_birth(self, out: Outcome, group: str, node_id: str, node: _Node, device: str, p) -> None:
        node.devices.add(device)
        node.aliases = {k: v for k, v in node.aliases.items() if k[0] != device}
        self._declare(out, group, node_id, node, device, p)

    def _declare(self, out: Outcome, group: str, node_id: str, node: _Node, device: str, p) -> None:
        for m in p.metrics:
            if not m.name or m.name == BDSEQ_METRIC:
                continue
            if m.alias is not None:
                node.aliases[(device, m.alias)] = m.name
            key = MetricKey(group, node_id, device, m.name)
            out.births.append((key, m.datatype))
            self._emit(out, key, node, m, p.timestamp)

    def _data(self, out: Outcome, topic: str, group: str, node_id: str, node: _Node, device: str, p) -> None:
        if device and device not in node.devices:
            out.errors.append(f"{topic}: data from a device with no birth")
            out.rebirth.append((group, node_id))
            return
        for m in p.metrics:
            name = m.name or (node.aliases.get((device, m.alias)) if m.alias is not None else None)
            if not name:
                out.errors.append(f"{topic}: unknown alias {m.alias}")
                self._unsure(out, group, node_id, node, "config_error")
                return
            self._emit(out, MetricKey(group, node_id, device, name), node, m, p.timestamp)

    def _in_sequence(self, out: Outcome, topic: str, group: str, node_id: str, node: _Node, p) -> bool:
        if not node.online:
            out.errors.append(f"{topic}: message from a node with no birth on record")
            out.rebirth.append((group, node_id))
            return False
        expected = (node.seq + 1) % 256
        if p.seq == node.seq and node.seen_data:
            # QoS 1 may deliver a message twice (a redelivery after a lost PUBACK): the same seq again is that
            # copy, already recorded; ignoring it keeps a value from being recorded twice.
            out.errors.append(f"{topic}: seq {p.seq} delivered twice (ignored)")
            return False
        if p.seq != expected:
            out.errors.append(f"{topic}: seq {p.seq} where {expected} was due (messages lost)")
            self._unsure(out, group, node_id, node, "comm_failure")
            return False
        node.seq = p.seq
        node.seen_data = True
        return True

    def _emit(self, out: Outcome, key: MetricKey, node: _Node, m: Metric, payload_ts) -> None:
        ts_ms = m.timestamp or payload_ts
        ts = ts_ms / 1000.0 if ts_ms else self.clock()
        if m.unsupported:
            out.values.append((key, None, "BAD", "config_error", ts))
            return
        if m.is_historical:
            # A value the node stored while it could not publish: history, not the metric's present value.
            out.historical.append((key, m.value, ts))
            return
        node.metrics[(key.device, key.metric)] = (m.value, ts)
        out.values.append((key, m.value, "GOOD", None, ts))

    # --- failures -------------------------------------------------------------------------------------------
    def _unsure(self, out: Outcome, group: str, node_id: str, node: _Node, substatus: str) -> None:
        """Kiln no longer knows this node's values: all BAD, a rebirth asked, data ignored until it comes."""
        node.online = False
        out.rebirth.append((group, node_id))
        self._bad(out, group, node_id, node, None, substatus)

    def _bad(self, out: Outcome, group: str, node_id: str, node: _Node, device: str | None, substatus: str) -> None:
        for (dev, name), (value, ts) in node.metrics.items():
            if device is None or dev == device:
                out.values.append((MetricKey(group, node_id, dev, name), value, "BAD", substatus, ts))
