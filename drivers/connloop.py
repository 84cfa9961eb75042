"""What every protocol's connection loop shares: lease and config housekeeping, back-off, BAD on loss, writes.

A protocol loop (drivers.poller.ConnectionPoller for Modbus, drivers.opcua.loop.OpcuaLoop for OPC UA) owns one
link to one device (a socket, a session) and runs in one worker process at a time (the Redis lease,
drivers.runtime). This base holds the rules that must be the same for all of them, so a fix lands once:

- `run`: the loop skeleton: stop flag, housekeeping every second (lease renewal, stats, config version,
  queued writes), the protocol's own work (`_turn`), the tenure, and the wait that a write request wakes;
- `_connect` / `_comm_failure`: a failed or lost link closes it, marks every tag of the connection BAD
  comm_failure with its last value and time (one batch), and reconnects with back-off 0.5 s, 1 s, 2 s ... cap;
- `_record`: every batch goes to the sink (drivers.services.VALUE_OUTBOX → tags.values.tag_values_record);
  a failing sink is counted, never fatal;
- `handle_writes` / `execute_write`: writes handed over by drivers.writes run between batches on the same
  link; a request that waited too long or finds the link down is answered without writing.

A subclass provides `link_connected`, `_open()` (connect; raise one of `link_errors`), `_opened(result)`,
`_close_link()`, `_turn(next_housekeeping)` and `_write(request)`.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable

from drivers.choices import ConnectionState
from drivers.rates import RateMeter
from tags.choices import Quality
from tags.values import Sample

logger = logging.getLogger(__name__)

__all__ = ["ConnectionLoop", "BACKOFF_START", "HOUSEKEEPING_EVERY", "live_last_values"]

BACKOFF_START = 0.5
HOUSEKEEPING_EVERY = 1.0


def live_last_values(tag_ids: list[int]) -> dict[int, tuple[object, float]]:
    """{tag id: (value, ts)} from the live table: what a BAD sample keeps when a link is lost."""
    from tags.live import live_get_many

    return {tid: (lv.value, lv.ts) for tid, lv in live_get_many(tag_ids).items() if lv is not None}


class ConnectionLoop:
    """The protocol-independent half of a connection loop; see the module docstring."""

    COUNTERS: tuple[str, ...] = ("cycles", "errors", "reconnects", "writes")
    link_errors: tuple[type[BaseException], ...] = ()
    lease_lost_message = "Connection %s: lease lost; another worker runs it now"

    def __init__(self, spec, tag_ids: list[int], *, sink: Callable[[list[Sample]], object], runtime=None,
                 last_values: Callable[[list[int]], dict] | None = live_last_values,
                 clock: Callable[[], float] = time.monotonic, counters: dict | None = None):
        self.spec = spec
        self.tag_ids = tag_ids
        self.sink = sink
        self.runtime = runtime
        self.last_values = last_values
        self.clock = clock
        self.state = ConnectionState.CONNECTED if self.link_connected else ConnectionState.CONNECTING
        self.backoff = 0.0
        self.next_connect = 0.0
        self.ever_connected = self.link_connected
        self.bad: dict[int, str] = {}
        # Counters run on across tenures and re-plans (the caller passes the previous loop's), so the status
        # API shows totals since the connection was first polled, not since the last hand-over.
        for name in self.COUNTERS:
            setattr(self, name, int((counters or {}).get(name) or 0))
        self.rate = RateMeter()
        self.record_ms: deque = deque(maxlen=1000)  # how long recording took, per batch (the sink's share)
        self.last_poll: float | None = None
        self.last_error = ""
        self.last_error_at: float | None = None
        self.started_at = time.time()
        self.version_seen: bytes | None = None
        self.version_known = False
        self._plain_sleep_until = 0.0

    # --- the protocol's part --------------------------------------------------------------------------------------
    @property
    def link_connected(self) -> bool:
        raise NotImplementedError

    def _open(self):
        """Connect the link; raise one of `link_errors` when it cannot be."""
        raise NotImplementedError

    def _opened(self, result) -> None:
        """Called once the link is up, with what `_open` returned."""

    def _close_link(self) -> None:
        raise NotImplementedError

    def _begin(self) -> None:
        """Called once when `run` starts."""

    def _turn(self, next_housekeeping: float) -> float | None:
        """Do the due work; return the monotonic time to wake at, or None to turn again at once."""
        raise NotImplementedError

    def _write(self, req: dict) -> dict:
        """Write on the (connected) link and read back; return the reply (see execute_write)."""
        raise NotImplementedError

    # --- the loop ---------------------------------------------------------------------------------------------
    def run(self, *, until: float | None = None, version: bytes | None = None, version_known: bool = False,
            should_stop: Callable[[], bool] | None = None) -> str:
        """Run until a reason to stop: 'tenure' (until reached), 'lease_lost', 'reconfigure', 'stopping'."""
        self.version_seen, self.version_known = version, version_known
        self._begin()
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
                wake = self._turn(next_housekeeping)
                if wake is None:
                    continue
                now = self.clock()
                if until is not None:
                    if now >= until:
                        return "tenure"
                    wake = min(wake, until)
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
        except Exception:  # noqa: BLE001 - Redis trouble must not stop the loop; plain sleeps for a while
            logger.exception("Connection %s: waiting on Redis failed; plain sleeps for 5 s", self.spec.name)
            self._plain_sleep_until = self.clock() + 5.0
            self.runtime.close()

    def _record(self, samples: list[Sample]) -> None:
        if not samples:
            return
        try:
            # In production: drivers.services.VALUE_OUTBOX → tags.values.tag_values_record → the live table, then
            # each of settings.KILN_VALUE_CONSUMERS in order (docs/architecture.md, "Extending Kiln").
            started = time.monotonic()
            self.sink(samples)
            self.record_ms.append((time.monotonic() - started) * 1000.0)
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
            result = self._open()
        except self.link_errors as exc:
            self._comm_failure(str(exc))
            return False
        if self.ever_connected:
            self.reconnects += 1
        self.ever_connected = True
        self.state = ConnectionState.CONNECTED
        self._opened(result)
        return True

    def _comm_failure(self, reason: str) -> None:
        self._close_link()
        was = self.state
        self.state = ConnectionState.BACKOFF
        self._note_error(reason)
        self.backoff = BACKOFF_START if not self.backoff else min(self.backoff * 2, self.spec.backoff_cap)
        self.next_connect = self.clock() + self.backoff
        newly_bad = [t for t in self.tag_ids if self.bad.get(t) != "comm_failure"]
        if newly_bad:
            self._record(self._bad_samples(newly_bad, "comm_failure"))
        if newly_bad or was == ConnectionState.CONNECTED:  # once per outage, not once per reconnect attempt
            logger.warning("Connection %s: %s; %d tags BAD, reconnecting with back-off", self.spec.name, reason,
                           len(newly_bad))

    def _note_error(self, text: str) -> None:
        self.errors += 1
        self.last_error = text[:300]
        self.last_error_at = time.time()

    # --- housekeeping: lease, configuration, stats --------------------------------------------------------------
    def stats(self) -> dict:
        """What every protocol publishes (drivers.selectors reads it back for the status API and the admin)."""
        return {
            "state": str(self.state),
            "worker": f"{getattr(self.runtime, 'hostname', '')}:{os.getpid()}",
            "since": self.started_at,
            "last_poll": self.last_poll,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "cycles": self.cycles,
            "overruns": getattr(self, "overruns", 0),
            "errors": self.errors,
            "reconnects": self.reconnects,
            "writes": self.writes,
            "tags": len(self.tag_ids),
            "tags_bad": len(self.bad),
            "values_per_s": self.rate.rate(),
        }

    def counters(self) -> dict:
        return {name: getattr(self, name) for name in self.COUNTERS}

    def _housekeeping(self) -> str | None:
        if self.runtime is None:
            return None
        try:
            ours, version, stopping = self.runtime.housekeeping(self.stats())
        except Exception:  # noqa: BLE001 - Redis down: keep going; values are held by the outbox
            logger.exception("Connection %s: housekeeping failed", self.spec.name)
            return None
        if not ours:
            logger.warning(self.lease_lost_message, self.spec.name)
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
        """Write, then read back, on this loop's link. Returns the reply for drivers.writes (never raises)."""
        if time.time() > req["deadline"]:
            return {"status": "expired", "detail": "the request waited too long for the driver; nothing was written"}
        if not self.link_connected and not self._connect():
            return {"status": "failed", "detail": f"connection '{self.spec.name}' is down "
                                                  f"({self.last_error or 'not connected'}); nothing was written"}
        return self._write(req)

    def _record_readback(self, tag_id: int, value, quality: str = Quality.GOOD, substatus: str | None = None) -> None:
        """Record what the read-back after a write saw (a GOOD read-back clears the tag's BAD)."""
        if quality == Quality.GOOD:
            self.bad.pop(tag_id, None)
        sample = Sample(tag_id, value, quality, substatus, time.time())
        if hasattr(self.sink, "record_now"):  # a background recorder: after what waits, before the reply goes out
            self.sink.record_now([sample])
        else:
            self._record([sample])
