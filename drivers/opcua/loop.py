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
import os
import time
from collections.abc import Callable

from asyncua import ua
from django.conf import settings

from drivers.choices import ConnectionState
from drivers.opcua.quality import sample_time, status_quality
from drivers.opcua.session import NodePoint, OpcuaError, OpcuaRefused, OpcuaSession, OpcuaSpec
from drivers.poller import BACKOFF_START, HOUSEKEEPING_EVERY, _live_last_values
from drivers.rates import RateMeter
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


class OpcuaLoop:
    """Runs one OPC UA connection until told to stop; see the module docstring for the rules."""

    def __init__(self, spec: OpcuaSpec, points: list[NodePoint], *, sink: Callable[[list[Sample]], object],
                 session: OpcuaSession | None = None, runtime=None,
                 last_values: Callable[[list[int]], dict] | None = _live_last_values,
                 clock: Callable[[], float] = time.monotonic, counters: dict | None = None,
                 skew: float | None = None):
        self.spec = spec
        self.points = {p.tag_id: p for p in points}
        self.tag_ids = list(self.points)
        self.sink = sink
        self.session = session or OpcuaSession(spec)
        self.runtime = runtime
        self.last_values = last_values
        self.clock = clock
        self.skew = float(skew if skew is not None else settings.KILN_OPCUA_CLOCK_SKEW)
        self.state = ConnectionState.CONNECTED if self.session.connected else ConnectionState.CONNECTING
        self.backoff = 0.0
        self.next_connect = 0.0
        self.ever_connected = self.session.connected
        self.bad: dict[int, str] = {}
        self.refused: dict[int, str] = {}
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
                wait = FLUSH if self.session.connected else max(0.0, min(self.next_connect - now, FLUSH * 10))
                self._wait(min(wait, next_housekeeping - now))
        finally:
            self._publish_stats_quietly()

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

    # --- connection state -------------------------------------------------------------------------------------
    def _connect(self) -> bool:
        if self.clock() < self.next_connect:
            return False
        self.state = ConnectionState.CONNECTING
        try:
            refused = self.session.connect(list(self.points.values()))
        except (OpcuaError, OpcuaRefused) as exc:
            self._comm_failure(str(exc))
            return False
        if self.ever_connected:
            self.reconnects += 1
        self.ever_connected = True
        self.state = ConnectionState.CONNECTED
        self.backoff = 0.0
        # Tags marked BAD comm_failure stay so until their first notification (the server sends every item's
        # current value when it is created), so a tag whose value is never sent again is not shown GOOD.
        self.refused = {tid: status_quality(code)[1] or "config_error" for tid, code in refused.items()}
        if self.refused:
            self._note_error(f"the server refused {len(self.refused)} of {len(self.points)} nodes, e.g. "
                             f"{self.points[next(iter(self.refused))].node_id}: {next(iter(self.refused.values()))}")
            self._record(self._bad_samples(list(self.refused), self.refused))
        logger.info("Connection %s: subscribed to %d nodes at %s", self.spec.name,
                    len(self.points) - len(self.refused), self.spec.endpoint_url)
        return True

    def _comm_failure(self, reason: str) -> None:
        self.session.close()
        was = self.state
        self.state = ConnectionState.BACKOFF
        self._note_error(reason)
        self.backoff = BACKOFF_START if not self.backoff else min(self.backoff * 2, self.spec.backoff_cap)
        self.next_connect = self.clock() + self.backoff
        self.session.take()  # what arrived before the loss was recorded; anything racing it is stale now
        newly_bad = [t for t in self.tag_ids if self.bad.get(t) != "comm_failure"]
        if newly_bad:
            self._record(self._bad_samples(newly_bad, "comm_failure"))
        if newly_bad or was == ConnectionState.CONNECTED:  # once per outage, not once per reconnect attempt
            logger.warning("Connection %s: %s; %d tags BAD, reconnecting with back-off", self.spec.name, reason,
                           len(newly_bad))

    def _bad_samples(self, tag_ids: list[int], substatus: dict[int, str] | str) -> list[Sample]:
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
            sub = substatus[tid] if isinstance(substatus, dict) else substatus
            value, ts = last.get(tid, (None, now))
            out.append(Sample(tid, value, Quality.BAD, sub, ts))
            self.bad[tid] = sub
        return out

    def _note_error(self, text: str) -> None:
        self.errors += 1
        self.last_error = text[:300]
        self.last_error_at = time.time()

    # --- housekeeping: lease, configuration, stats --------------------------------------------------------------
    def stats(self) -> dict:
        return {
            "protocol": "opcua",
            "state": str(self.state),
            "worker": f"{getattr(self.runtime, 'hostname', '')}:{os.getpid()}",
            "since": self.started_at,
            "last_poll": self.last_poll,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "cycles": self.cycles,
            "overruns": 0,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "writes": self.writes,
            "tags": len(self.tag_ids),
            "tags_bad": len(self.bad),
            "values_per_s": self.rate.rate(),
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

    # --- writes -----------------------------------------------------------------------------------------------
    def handle_writes(self) -> None:
        if self.runtime is None:
            return
        while True:
            request = self.runtime.pop_write()
            if request is None:
                return
            try:
                reply = self.execute_write(request)
            except Exception as exc:  # noqa: BLE001 - the writer must always get an answer
                logger.exception("Connection %s: write request failed", self.spec.name)
                reply = {"status": "unknown", "detail": f"driver error: {exc}"}
            self.runtime.reply(request["id"], reply)

    def execute_write(self, req: dict) -> dict:
        """Write, then read back, on this loop's session. Returns the reply for drivers.writes (never raises)."""
        if time.time() > req["deadline"]:
            return {"status": "expired", "detail": "the request waited too long for the driver; nothing was written"}
        if not self.session.connected and not self._connect():
            return {"status": "failed", "detail": f"connection '{self.spec.name}' is down "
                                                  f"({self.last_error or 'not connected'}); nothing was written"}
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
        if quality == Quality.GOOD:
            self.bad.pop(tag_id, None)
        self._record([Sample(tag_id, readback, quality, sub, time.time())])
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
