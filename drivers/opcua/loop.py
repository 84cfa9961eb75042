"""The loop of one OPC UA connection: a subscription's notifications into the values path, with Modbus' rules.

One OpcuaLoop owns one session (drivers.opcua.session) and runs in one worker process at a time (the Redis
lease). The server pushes changes; the loop empties the session's queue every FLUSH seconds (and whenever a write
wakes it) and hands each batch to the sink (drivers.services.VALUE_OUTBOX → tags.values.tag_values_record),
one call per flush however many nodes changed.

Faults, as for Modbus (drivers.poller):
- server unreachable, session lost (the keep-alive probe failed), subscription ended → every tag of the
  connection BAD comm_failure with its last value and time (one batch), reconnect with back-off 0.5 s … cap;
- an item the server refuses (unknown node, not readable) → that tag BAD with the server's reason;
- a notification with a Bad/Uncertain status → that quality, the OPC UA sub-code kept (drivers.opcua.quality).
Writes handed over by drivers.writes run between flushes on the same session: write (never retried), read back,
record the read-back, reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from asyncua import ua
from django.conf import settings

from drivers.connloop import ConnectionLoop, live_last_values
from drivers.opcua.quality import sample_time, status_quality
from drivers.opcua.session import NodePoint, OpcuaError, OpcuaRefused, OpcuaSession, OpcuaSpec
from tags.choices import Quality
from tags.values import Sample

logger = logging.getLogger(__name__)

__all__ = ["OpcuaLoop", "FLUSH", "coerce_for_variant"]

FLUSH = 0.02  # seconds between drains of the notification queue: bounds the added latency, 50 wake-ups a second
COUNTERS = ("cycles", "errors", "reconnects", "writes", "notifications", "server_time_replaced")

_INT_VARIANTS = {ua.VariantType.SByte, ua.VariantType.Byte, ua.VariantType.Int16, ua.VariantType.UInt16,
                 ua.VariantType.Int32, ua.VariantType.UInt32, ua.VariantType.Int64, ua.VariantType.UInt64}
_INT_RANGE = {ua.VariantType.SByte: (-128, 127), ua.VariantType.Byte: (0, 255),
              ua.VariantType.Int16: (-32768, 32767), ua.VariantType.UInt16: (0, 65535),
              ua.VariantType.Int32: (-(2 ** 31), 2 ** 31 - 1), ua.VariantType.UInt32: (0, 2 ** 32 - 1),
              ua.VariantType.Int64: (-(2 ** 63), 2 ** 63 - 1), ua.VariantType.UInt64: (0, 2 ** 64 - 1)}


def coerce_for_variant(value, variant: ua.VariantType):
    """`value` (in the tag's type) as the Python value asyncua encodes as `variant`; ValueError when it cannot be."""
    if variant == ua.VariantType.Boolean:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise ValueError(f"{value!r} is not a Boolean")
    if variant in _INT_VARIANTS:
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{value!r} is not a whole number ({variant.name})")
            value = int(value)
        if not isinstance(value, int):
            raise ValueError(f"{value!r} is not a number")
        low, high = _INT_RANGE[variant]
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {variant.name} ({low}…{high})")
        return int(value)
    if variant in (ua.VariantType.Float, ua.VariantType.Double):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        if variant == ua.VariantType.Float and abs(value) > 3.4028234663852886e38:
            raise ValueError(f"{value} is outside Float")
        return float(value)
    if variant == ua.VariantType.String:
        return str(value)
    raise ValueError(f"Kiln does not write {variant.name} values")


class OpcuaLoop(ConnectionLoop):
    """Runs one OPC UA connection until told to stop; see the module docstring (and drivers.connloop)."""

    COUNTERS = COUNTERS
    link_errors = (OpcuaError, OpcuaRefused)

    def __init__(self, spec: OpcuaSpec, points: list[NodePoint], *, sink: Callable[[list[Sample]], object],
                 session: OpcuaSession | None = None, runtime=None,
                 last_values: Callable[[list[int]], dict] | None = live_last_values,
                 clock: Callable[[], float] = time.monotonic, counters: dict | None = None,
                 skew: float | None = None):
        self.points = {p.tag_id: p for p in points}
        self.session = session or OpcuaSession(spec)
        super().__init__(spec, list(self.points), sink=sink, runtime=runtime, last_values=last_values, clock=clock,
                         counters=counters)
        self.skew = float(skew if skew is not None else settings.KILN_OPCUA_CLOCK_SKEW)
        self.refused: dict[int, str] = {}

    # --- the loop (drivers.connloop.ConnectionLoop.run calls these) -------------------------------------------------
    @property
    def link_connected(self) -> bool:
        return self.session.connected

    def _turn(self, next_housekeeping: float) -> float:
        self.step()
        now = self.clock()
        wait = FLUSH if self.session.connected else max(0.0, min(self.next_connect - now, FLUSH * 10))
        return min(now + wait, next_housekeeping)

    def step(self) -> None:
        """Connect when due, notice a lost session, record what arrived. Public so tests can step by hand."""
        if self.session.lost:
            self._comm_failure(self.session.lost_reason or "session lost")
            return
        if not self.session.connected:
            self._connect()
            return
        self.flush()

    def flush(self) -> None:
        items = self.session.take()
        if not items:
            return
        now = time.time()
        samples: list[Sample] = []
        bad = self.bad
        replaced = 0
        valueless: dict[int, str] = {}
        for tag_id, value, status, source_ts, server_ts in items:
            quality, sub = status_quality(status)
            if quality == Quality.BAD:
                if value is None:  # a Bad notification carries no value: keep the last one and its time
                    valueless[tag_id] = sub or "bad"
                    continue
                bad[tag_id] = sub or "bad"
            elif bad:
                bad.pop(tag_id, None)
            ts, refused_time = sample_time(source_ts, server_ts, now, self.skew)
            replaced += refused_time
            samples.append(Sample(tag_id, value, quality, sub, ts))
        if valueless:
            samples.extend(self._bad_samples(list(valueless), valueless))
        self.notifications += len(items)
        self.server_time_replaced += replaced
        self.cycles += 1
        self.last_poll = now
        self._record(samples)

    # --- a configuration change ------------------------------------------------------------------------------
    def reconfigure(self, points: list[NodePoint]) -> dict[str, int]:
        """Take a new node list on the open session: only added, removed and changed items are touched.

        The other items keep their monitored items on the server, so their values flow on with nothing lost or
        recorded twice (what arrived before the change is recorded first). A node moved to another NodeId is a
        delete and a create (the server sends the new node's current value); a new sampling interval or deadband
        is a modify; a new name or write type changes nothing on the server. When the update fails, the session
        is dropped and the next connect subscribes the whole list afresh. Returns how many items were created,
        deleted and modified on the server.
        """
        new = {p.tag_id: p for p in points}
        old = self.points
        removed = [t for t in old if t not in new]
        added, modified = [], []
        for tid, p in new.items():
            was = old.get(tid)
            if was is None or was.node_id != p.node_id or tid in self.refused:
                if was is not None:
                    removed.append(tid)
                added.append(p)
            elif (was.sampling_interval, was.deadband) != (p.sampling_interval, p.deadband):
                modified.append(p)
        counts = {"created": len(added), "deleted": len(removed), "modified": len(modified)}
        if self.session.connected and not self.session.lost:
            self.flush()
        self.points, self.tag_ids = new, list(new)
        for tid in removed:
            self.refused.pop(tid, None)
            if tid not in new:
                self.bad.pop(tid, None)
        if not (added or removed or modified) or not self.session.connected or self.session.lost:
            return counts  # nothing for the server, or the next connect subscribes the new list
        try:
            refused = self.session.update(add=added, remove=removed, modify=modified)
        except (OpcuaError, OpcuaRefused) as exc:
            self._comm_failure(f"updating the subscription failed: {exc}")
            return counts
        if refused:
            self._refuse(refused)
        logger.info("Connection %s: configuration changed; %d monitored items created, %d deleted, %d modified, "
                    "%d untouched", self.spec.name, len(added), len(removed), len(modified),
                    len(new) - len(added) - len(modified))
        return counts

    # --- connection state (drivers.connloop.ConnectionLoop._connect / _comm_failure call these) ---------------------
    def _open(self) -> dict[int, int]:
        return self.session.connect(list(self.points.values()))

    def _opened(self, refused: dict[int, int]) -> None:
        self.backoff = 0.0
        # Tags marked BAD comm_failure stay so until their first notification (the server sends every item's
        # current value when it is created), so a tag whose value is never sent again is not shown GOOD.
        self.refused = {}
        self._refuse(refused)
        logger.info("Connection %s: subscribed to %d nodes at %s", self.spec.name,
                    len(self.points) - len(self.refused), self.spec.endpoint_url)

    def _refuse(self, codes: dict[int, int]) -> None:
        """Items the server refused: BAD with the server's reason, counted once in the errors."""
        if not codes:
            return
        refused = {tid: status_quality(code)[1] or "config_error" for tid, code in codes.items()}
        self.refused.update(refused)
        self._note_error(f"the server refused {len(refused)} of {len(self.points)} nodes, e.g. "
                         f"{self.points[next(iter(refused))].node_id}: {next(iter(refused.values()))}")
        self._record(self._bad_samples(list(refused), refused))

    def _close_link(self) -> None:
        self.session.close()
        self.session.take()  # what arrived before the loss was recorded; anything racing it is stale now

    # --- stats --------------------------------------------------------------------------------------------------
    def stats(self) -> dict:
        return {
            "protocol": "opcua",
            **super().stats(),
            "notifications": self.notifications,
            "server_time_replaced": self.server_time_replaced,
            "monitored_items": len(self.points) - len(self.refused) if self.session.connected else 0,
            "server_certificate_sha256": self.session.server_certificate_sha256,
            **(self.sink.stats() if hasattr(self.sink, "stats") else {}),
            "poll_ms_p50": None,
            "poll_ms_p99": None,
            "jitter_ms_p99": None,
            "scan_classes": [],
        }

    # --- writes -----------------------------------------------------------------------------------------------
    def _write(self, req: dict) -> dict:
        """Write, then read back, on this loop's session (the base answers expired/down requests first)."""
        node_id, tag_id = req["node_id"], req["tag_id"]
        try:
            variant = self._variant(req)
            value = coerce_for_variant(req["value"], variant)
        except OpcuaRefused as exc:
            self._note_error(str(exc))
            return {"status": "rejected", "detail": f"the server refused to say the node's type ({exc}); "
                                                    f"nothing was written"}
        except OpcuaError as exc:
            self._comm_failure(str(exc))
            return {"status": "failed", "detail": f"no answer from the server ({exc}); nothing was written"}
        except ValueError as exc:
            return {"status": "rejected", "detail": f"the node cannot hold {req['value']!r}: {exc}; nothing was "
                                                    f"written"}
        try:
            self.session.write(node_id, value, variant)
        except OpcuaRefused as exc:
            self._note_error(str(exc))
            return {"status": "rejected", "detail": f"the server refused the write ({exc}); nothing was written"}
        except OpcuaError as exc:
            self._comm_failure(str(exc))
            return {"status": "unknown", "detail": f"no reply from the server ({exc})"}
        self.writes += 1
        try:
            dv = self.session.read(node_id)
        except (OpcuaRefused, OpcuaError) as exc:
            self._note_error(str(exc))
            return {"status": "written", "confirmed": False, "readback": None,
                    "detail": f"written, but the read-back failed ({exc})"}
        readback = dv.Value.Value if dv.Value is not None else None
        if variant == ua.VariantType.Float and isinstance(readback, float):
            from drivers.codec import float32_shortest

            readback = float32_shortest(readback)
        quality, sub = status_quality(dv.StatusCode.value if dv.StatusCode is not None else 0)
        confirmed = quality == Quality.GOOD and readback == (
            float(_f32(value)) if variant == ua.VariantType.Float else value)
        self._record_readback(tag_id, readback, quality, sub)
        return {"status": "written", "confirmed": confirmed, "readback": readback}

    def _variant(self, req: dict) -> ua.VariantType:
        if req.get("variant") and req["variant"] != "auto":
            return ua.VariantType[req["variant"]]
        known = self.session.variant_of.get(req["tag_id"])
        if known is not None:
            return known
        dv = self.session.read(req["node_id"])
        if dv.Value is None or dv.Value.VariantType == ua.VariantType.Null:
            raise ValueError("the node has no value yet to take its type from: set the binding's type")
        return dv.Value.VariantType


def _f32(value: float) -> float:
    from drivers.codec import float32_shortest

    return float32_shortest(float(value))
