"""The poll loop of one connection: a fixed schedule per scan class, merged reads, faults as BAD quality.

One ConnectionPoller owns one socket to one PLC and runs in one worker process at a time (the Redis lease,
drivers.runtime). Each scan group's cycles start on a fixed grid (start = first + n · period, so there is no
drift); a slot whose successor is already due when it could start is skipped and counted as an overrun, never
queued. Every cycle ends in exactly one call of the sink (tags.values.tag_values_record in production) with
one sample per tag of the group.

Faults:
- no answer / lost socket → the socket is closed, every tag of the connection is recorded BAD comm_failure
  with its last value and timestamp (one batch), and reconnects back off 0.5 s, 1 s, 2 s ... up to the cap;
- a Modbus exception → only that read's tags are BAD config_error; a merged read the PLC refuses is split
  into one read per tag from the next cycle on, so only the tags the PLC really refuses stay BAD.
Writes handed over by drivers.writes are executed between cycles on the same socket (one socket per PLC).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable

from drivers.choices import ConnectionState
from drivers.codec import Codec, Scaling
from drivers.modbus import GATEWAY_CODES, CommError, ModbusTransport, PlcException
from drivers.plan import ConnectionSpec, ScanGroup, split_block
from drivers.rates import RateMeter
from tags.choices import Quality
from tags.values import Sample

logger = logging.getLogger(__name__)

__all__ = ["ConnectionPoller", "percentile", "BACKOFF_START"]

BACKOFF_START = 0.5
HOUSEKEEPING_EVERY = 1.0
STATS_WINDOW = 1000  # cycle durations kept for p50/p99 (100 s of a 100 ms class)
COUNTERS = ("cycles", "overruns", "errors", "reconnects", "writes")


def percentile(values, q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of a sequence; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def _live_last_values(tag_ids: list[int]) -> dict[int, tuple[object, float]]:
    from tags.live import live_get_many

    return {tid: (lv.value, lv.ts) for tid, lv in live_get_many(tag_ids).items() if lv is not None}


class ConnectionPoller:
    """Polls one connection until told to stop; see the module docstring for the rules."""

    def __init__(self, spec: ConnectionSpec, groups: list[ScanGroup], *, sink: Callable[[list[Sample]], object],
                 transport: ModbusTransport | None = None, runtime=None,
                 last_values: Callable[[list[int]], dict] | None = _live_last_values,
                 clock: Callable[[], float] = time.monotonic, on_cycle: Callable | None = None,
                 counters: dict | None = None):
        self.spec = spec
        self.groups = groups
        self.sink = sink
        self.transport = transport or ModbusTransport(spec.host, spec.port, unit_id=spec.unit_id,
                                                      timeout=spec.timeout, retries=spec.retries)
        self.runtime = runtime
        self.last_values = last_values
        self.clock = clock
        self.on_cycle = on_cycle  # benchmark hook: (group, scheduled, started, ended)
        self.tag_ids = [t for g in groups for t in g.tag_ids]
        self.state = ConnectionState.CONNECTED if self.transport.connected else ConnectionState.CONNECTING
        self.backoff = 0.0
        self.next_connect = 0.0
        self.ever_connected = self.transport.connected
        self.bad: dict[int, str] = {}
        self.cycles = self.overruns = self.errors = self.reconnects = self.writes = 0
        # Counters run on across tenures and re-plans (the caller passes the previous loop's), so the status
        # API shows totals since the connection was first polled, not since the last hand-over.
        for name in COUNTERS:
            setattr(self, name, int((counters or {}).get(name) or 0))
        self.rate = RateMeter()
        self.last_poll: float | None = None
        self.last_error = ""
        self.last_error_at: float | None = None
        self.started_at = time.time()
        self.durations: dict[int, deque] = {g.period_ms: deque(maxlen=STATS_WINDOW) for g in groups}
        self.jitters: dict[int, deque] = {g.period_ms: deque(maxlen=STATS_WINDOW) for g in groups}
        self._plain_sleep_until = 0.0
        self.version_seen: bytes | None = None
        self.version_known = False

    # --- the loop ---------------------------------------------------------------------------------------------
    def run(self, *, until: float | None = None, version: bytes | None = None, version_known: bool = False,
            should_stop: Callable[[], bool] | None = None) -> str:
        """Poll until a reason to stop: 'tenure' (until reached), 'lease_lost', 'reconfigure', 'stopping'."""
        self.version_seen, self.version_known = version, version_known
        start = self.clock()
        for g in self.groups:
            g.next_due = start
        next_housekeeping = start
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
                ran = False
                for g in self.groups:  # fastest first
                    if g.next_due <= now:
                        self._run_slot(g)
                        ran = True
                        now = self.clock()
                if ran:
                    continue
                if until is not None and now >= until:
                    return "tenure"
                wake = min([g.next_due for g in self.groups] + [next_housekeeping]
                           + ([until] if until is not None else []))
                self._wait(wake - now)
        finally:
            self._publish_stats_quietly()

    def _wait(self, timeout: float) -> None:
        if timeout <= 0:
            return
        if self.runtime is None or self.clock() < self._plain_sleep_until:
            time.sleep(timeout)
            return
        try:
            if self.runtime.wait(timeout):
                self.handle_writes()
        except Exception:  # noqa: BLE001 - Redis trouble must not stop polling; plain sleeps for a while
            logger.exception("Connection %s: waiting on Redis failed; plain sleeps for 5 s", self.spec.name)
            self._plain_sleep_until = self.clock() + 5.0
            self.runtime.close()

    def _run_slot(self, g: ScanGroup) -> None:
        now = self.clock()
        # Too late for this slot when the next one is already due: skip it (counted), never run two back to back.
        while g.next_due + g.period <= now:
            g.next_due += g.period
            self.overruns += 1
        scheduled = g.next_due
        self.cycle(g)
        ended = self.clock()
        if self.on_cycle is not None:
            self.on_cycle(g, scheduled, now, ended)
        g.next_due = scheduled + g.period
        while g.next_due <= ended:  # the cycle outlasted its period: the slots it overlapped are skipped
            g.next_due += g.period
            self.overruns += 1

    # --- one cycle --------------------------------------------------------------------------------------------
    def cycle(self, g: ScanGroup) -> None:
        """Read the group's blocks and record one batch. Public so tests can step a poller by hand."""
        started = self.clock()
        if not self.transport.connected and not self._connect():
            return
        values: list[tuple[int, object]] = []
        refused: dict[int, str] = {}
        for block in list(g.blocks):
            try:
                data = self.transport.read(block.table, block.start, block.count)
            except PlcException as exc:
                self._note_error(str(exc))
                substatus = "comm_failure" if exc.code in GATEWAY_CODES else "config_error"
                for p in block.points:
                    refused[p.tag_id] = substatus
                if len(block.points) > 1 and exc.code not in GATEWAY_CODES:
                    i = g.blocks.index(block)
                    g.blocks[i:i + 1] = split_block(block)
                    logger.info("Connection %s: the PLC refused %s %d+%d (%s); reading those %d tags one by one",
                                self.spec.name, block.table, block.start, block.count, exc, len(block.points))
                continue
            except CommError as exc:
                self._comm_failure(str(exc))
                return
            values.extend(block.decode(data))
        ts = time.time()
        good = Quality.GOOD
        samples = [Sample(tid, v, good, None, ts) for tid, v in values]
        if self.bad:
            for tid, _ in values:
                self.bad.pop(tid, None)
        newly_refused = [t for t, sub in refused.items() if self.bad.get(t) != sub]
        if newly_refused:  # a tag already BAD for the same reason needs no new sample (nor a live-table read)
            samples.extend(self._bad_samples(newly_refused, refused))
        self._record(samples)
        if self.backoff and not refused:
            self.backoff = 0.0  # a clean cycle after a reconnect: the next failure backs off from the start
        self.cycles += 1
        self.last_poll = ts
        self.durations[g.period_ms].append((self.clock() - started) * 1000.0)
        self.jitters[g.period_ms].append(max(0.0, started - g.next_due) * 1000.0)

    def _record(self, samples: list[Sample]) -> None:
        if not samples:
            return
        try:
            # In production: drivers.services._record → tags.values.tag_values_record → the live table, then each
            # of settings.KILN_VALUE_CONSUMERS in order (docs/architecture.md, "Extending Kiln").
            self.sink(samples)
            self.rate.add(len(samples))
        except Exception as exc:  # noqa: BLE001 - a failing recorder is reported, the loop keeps its schedule
            self._note_error(f"recording values failed: {exc}")
            logger.exception("Connection %s: recording %d samples failed", self.spec.name, len(samples))

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

    # --- connection state -------------------------------------------------------------------------------------
    def _connect(self) -> bool:
        if self.clock() < self.next_connect:
            return False
        self.state = ConnectionState.CONNECTING
        try:
            self.transport.connect()
        except CommError as exc:
            self._comm_failure(str(exc))
            return False
        if self.ever_connected:
            self.reconnects += 1
        self.ever_connected = True
        self.state = ConnectionState.CONNECTED
        logger.info("Connection %s: connected to %s:%s", self.spec.name, self.spec.host, self.spec.port)
        return True

    def _comm_failure(self, reason: str) -> None:
        self.transport.close()
        was = self.state
        self.state = ConnectionState.BACKOFF
        self._note_error(reason)
        self.backoff = BACKOFF_START if not self.backoff else min(self.backoff * 2, self.spec.backoff_cap)
        self.next_connect = self.clock() + self.backoff
        newly_bad = [t for t in self.tag_ids if self.bad.get(t) != "comm_failure"]
        if newly_bad:
            self._record(self._bad_samples(newly_bad, "comm_failure"))
        if was != ConnectionState.BACKOFF:
            logger.warning("Connection %s: %s; %d tags BAD, reconnecting with back-off", self.spec.name, reason,
                           len(newly_bad))

    def _note_error(self, text: str) -> None:
        self.errors += 1
        self.last_error = text[:300]
        self.last_error_at = time.time()

    # --- housekeeping: lease, configuration, stats --------------------------------------------------------------
    def stats(self) -> dict:
        all_durations = [d for dq in self.durations.values() for d in dq]
        all_jitters = [d for dq in self.jitters.values() for d in dq]
        p = percentile
        return {
            "state": str(self.state),
            "worker": f"{getattr(self.runtime, 'hostname', '')}:{os.getpid()}",
            "since": self.started_at,
            "last_poll": self.last_poll,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "cycles": self.cycles,
            "overruns": self.overruns,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "writes": self.writes,
            "tags": len(self.tag_ids),
            "tags_bad": len(self.bad),
            "values_per_s": self.rate.rate(),
            # values held by the process's outbox while Redis is down, and dropped from it (drivers.outbox)
            **(self.sink.stats() if hasattr(self.sink, "stats") else {}),
            "poll_ms_p50": _r(p(all_durations, 50)),
            "poll_ms_p99": _r(p(all_durations, 99)),
            "jitter_ms_p99": _r(p(all_jitters, 99)),
            "scan_classes": [
                {"period_ms": g.period_ms, "tags": len(g.tag_ids), "reads": len(g.blocks),
                 "poll_ms_p50": _r(p(self.durations[g.period_ms], 50)),
                 "poll_ms_p99": _r(p(self.durations[g.period_ms], 99))}
                for g in self.groups
            ],
        }

    def counters(self) -> dict:
        return {name: getattr(self, name) for name in COUNTERS}

    def _housekeeping(self) -> str | None:
        if self.runtime is None:
            return None
        try:
            ours, version, stopping = self.runtime.housekeeping(self.stats())
        except Exception:  # noqa: BLE001 - Redis down: keep polling; values will fail to record and be counted
            logger.exception("Connection %s: housekeeping failed", self.spec.name)
            return None
        if not ours:
            logger.warning("Connection %s: lease lost; another worker polls it now", self.spec.name)
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
        """Write, then read back, on this loop's socket. Returns the reply for drivers.writes (never raises)."""
        if time.time() > req["deadline"]:
            return {"status": "expired", "detail": "the request waited too long for the driver; nothing was written"}
        if not self.transport.connected and not self._connect():
            return {"status": "failed", "detail": f"connection '{self.spec.name}' is down "
                                                  f"({self.last_error or 'not connected'}); nothing was written"}
        codec = Codec(req["data_type"], string_length=req.get("string_length"), word_order=req["word_order"],
                      byte_order=req["byte_order"], scaling=Scaling(*req["scaling"]) if req.get("scaling") else None,
                      integer_eu=req.get("integer_eu", False))
        table, address, regs = req["table"], req["address"], req["registers"]
        try:
            self.transport.write(table, address, regs)
        except PlcException as exc:
            self._note_error(str(exc))
            return {"status": "rejected", "detail": f"the PLC refused the write ({exc}); nothing was written"}
        except CommError as exc:
            self._comm_failure(str(exc))
            return {"status": "unknown", "detail": f"no reply from the PLC ({exc})"}
        self.writes += 1
        try:
            back = self.transport.read(table, address, codec.count)
        except PlcException as exc:
            self._note_error(str(exc))
            return {"status": "written", "confirmed": False, "readback": None,
                    "detail": f"written, but the read-back was refused ({exc})"}
        except CommError as exc:
            self._comm_failure(str(exc))
            return {"status": "written", "confirmed": False, "readback": None,
                    "detail": f"written, but the read-back got no reply ({exc})"}
        back = [bool(b) for b in back] if table in ("coil", "discrete") else list(back)
        readback = codec.decode(back)
        confirmed = back == ([bool(v) for v in regs] if table in ("coil", "discrete") else list(regs))
        self.bad.pop(req["tag_id"], None)
        self._record([Sample(req["tag_id"], readback, Quality.GOOD, None, time.time())])
        return {"status": "written", "confirmed": confirmed, "readback": readback}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
