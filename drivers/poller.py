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
import time
from collections import deque
from collections.abc import Callable

from drivers.codec import Codec, Scaling
from drivers.connloop import BACKOFF_START, HOUSEKEEPING_EVERY, ConnectionLoop, live_last_values
from drivers.modbus import GATEWAY_CODES, CommError, ModbusTransport, PlcException
from drivers.plan import ConnectionSpec, ScanGroup, split_block
from tags.choices import Quality
from tags.values import Sample

logger = logging.getLogger(__name__)

__all__ = ["ConnectionPoller", "percentile", "BACKOFF_START", "HOUSEKEEPING_EVERY"]

STATS_WINDOW = 1000  # cycle durations kept for p50/p99 (100 s of a 100 ms class)
_live_last_values = live_last_values  # the name earlier callers import


def percentile(values, q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of a sequence; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


class ConnectionPoller(ConnectionLoop):
    """Polls one connection until told to stop; see the module docstring for the rules (and drivers.connloop)."""

    COUNTERS = ("cycles", "overruns", "errors", "reconnects", "writes")
    link_errors = (CommError,)
    lease_lost_message = "Connection %s: lease lost; another worker polls it now"

    def __init__(self, spec: ConnectionSpec, groups: list[ScanGroup], *, sink: Callable[[list[Sample]], object],
                 transport: ModbusTransport | None = None, runtime=None,
                 last_values: Callable[[list[int]], dict] | None = live_last_values,
                 clock: Callable[[], float] = time.monotonic, on_cycle: Callable | None = None,
                 counters: dict | None = None):
        self.groups = groups
        self.transport = transport or ModbusTransport(spec.host, spec.port, unit_id=spec.unit_id,
                                                      timeout=spec.timeout, retries=spec.retries)
        super().__init__(spec, [t for g in groups for t in g.tag_ids], sink=sink, runtime=runtime,
                         last_values=last_values, clock=clock, counters=counters)
        self.on_cycle = on_cycle  # benchmark hook: (group, scheduled, started, ended)
        self.durations: dict[int, deque] = {g.period_ms: deque(maxlen=STATS_WINDOW) for g in groups}
        self.jitters: dict[int, deque] = {g.period_ms: deque(maxlen=STATS_WINDOW) for g in groups}

    # --- the loop (drivers.connloop.ConnectionLoop.run calls these) -------------------------------------------------
    @property
    def link_connected(self) -> bool:
        return self.transport.connected

    def _begin(self) -> None:
        start = self.clock()
        for g in self.groups:
            g.next_due = start

    def _turn(self, next_housekeeping: float) -> float | None:
        now = self.clock()
        ran = False
        for g in self.groups:  # fastest first
            if g.next_due <= now:
                self._run_slot(g)
                ran = True
                now = self.clock()
        if ran:
            return None
        return min([g.next_due for g in self.groups] + [next_housekeeping])

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

    # --- connection state (drivers.connloop.ConnectionLoop._connect / _comm_failure call these) ---------------------
    def _open(self) -> None:
        self.transport.connect()

    def _opened(self, result) -> None:
        logger.info("Connection %s: connected to %s:%s", self.spec.name, self.spec.host, self.spec.port)

    def _close_link(self) -> None:
        self.transport.close()

    # --- stats --------------------------------------------------------------------------------------------------
    def stats(self) -> dict:
        all_durations = [d for dq in self.durations.values() for d in dq]
        all_jitters = [d for dq in self.jitters.values() for d in dq]
        p = percentile
        return {
            **super().stats(),
            "record_ms_p99": _r(p(self.record_ms, 99)),  # handing over (or recording, with a plain sink)
            # values held by the process's outbox while Redis is down, and dropped from it (drivers.outbox); with
            # the recorder thread (drivers.recorder) also its own record_ms_p99, queue and errors
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

    # --- writes -----------------------------------------------------------------------------------------------
    def _write(self, req: dict) -> dict:
        """Write, then read back, on this loop's socket (the base answers expired/down requests first)."""
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
        self._record_readback(req["tag_id"], readback)
        return {"status": "written", "confirmed": confirmed, "readback": readback}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
