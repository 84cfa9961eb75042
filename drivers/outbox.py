"""Store and forward in the drivers process: what the poll loop could not record while Redis (or the database
holding the tag configuration) was down is kept here, in order, and replayed when it is back.

Without it a Redis outage left a hole in history with GOOD samples on both sides and nothing marking it: the
poll loop kept reading the PLC, tags.values.tag_values_record raised on its first Redis call, and the batch was
logged and gone. Now:

- a batch that cannot be recorded is held in a bounded in-memory queue (KILN_DRIVERS_OUTBOX_SAMPLES samples);
- while anything is held, new batches queue behind it (order is kept) and recording is retried at most once
  per KILN_DRIVERS_OUTBOX_RETRY_SECONDS, so a dead Redis does not cost every poll cycle a connect attempt;
- when the queue is full the OLDEST batch is dropped, counted, logged, and each of its tags remembered with the
  time of its first lost sample; on replay each such tag first gets a BAD `data_lost` sample at that time, so
  history shows the hole as BAD quality, as it shows a PLC failure, and the drop is audited;
- replay goes through the one values path in order, in chunks, so the historian, alarms and live push see the
  samples exactly as if they had been recorded on time (alarms are evaluated late, with the original times).

The queue lives in process memory: a drivers worker killed during an outage loses what it held (its connections'
tags then go BAD through the supervisor, drivers.services.drivers_supervise). See docs/architecture.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import redis
from django.conf import settings

from scada.env import envint
from scada.outage import database_unavailable
from tags.choices import Quality
from tags.values import Sample

logger = logging.getLogger(__name__)

__all__ = ["ValueOutbox", "DATA_LOST", "outbox_limit", "outbox_retry_seconds"]

DATA_LOST = "data_lost"
REPLAY_CHUNK = 5000  # samples per tag_values_record call on replay: one poll cycle's order of magnitude


def outbox_limit() -> int:
    return getattr(settings, "KILN_DRIVERS_OUTBOX_SAMPLES", None) or envint("KILN_DRIVERS_OUTBOX_SAMPLES", 200_000,
                                                                           minimum=1)


def outbox_retry_seconds() -> float:
    return float(getattr(settings, "KILN_DRIVERS_OUTBOX_RETRY_SECONDS", None)
                 or envint("KILN_DRIVERS_OUTBOX_RETRY_SECONDS", 1, minimum=1))


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, redis.RedisError) or database_unavailable(exc)


class ValueOutbox:
    """A sink for poll loops: records batches through `sink`, holding them while it fails with an outage.

    Thread-safe (one lock); callable like the sink it wraps. `on_drop(tags, samples, first_ts, last_ts)` is told
    once per replay that follows drops (the audit record).
    """

    def __init__(self, sink: Callable[[list[Sample]], object], *, limit: Callable[[], int] = outbox_limit,
                 retry_seconds: Callable[[], float] = outbox_retry_seconds, clock: Callable[[], float] = time.monotonic,
                 on_drop: Callable[..., object] | None = None):
        self.sink = sink
        self.limit = limit
        self.retry_seconds = retry_seconds
        self.clock = clock
        self.on_drop = on_drop
        self.lock = threading.Lock()
        self.held: deque[list[Sample]] = deque()
        self.held_samples = 0
        self.lost: dict[int, float] = {}  # tag id → time of its first sample dropped since the last replay
        self.lost_samples = 0
        self.lost_last_ts = 0.0
        self.dropped_total = 0
        self.replayed_total = 0
        self.retry_at = 0.0
        self.last_error = ""

    def __call__(self, samples: list[Sample]) -> None:
        self.record(samples)

    def record(self, samples: list[Sample]) -> None:
        """Record `samples`, after anything still held; hold them instead while the outage lasts."""
        if not samples:
            return
        with self.lock:
            if self.held or self.lost:
                if self.clock() < self.retry_at:
                    self._hold(samples)
                    return
                try:
                    self._replay()
                except Exception as exc:
                    if not _is_outage(exc):
                        raise
                    self._failed(exc)
                    self._hold(samples)
                    return
            try:
                self.sink(samples)
            except Exception as exc:
                if not _is_outage(exc):
                    raise
                self._failed(exc)
                self._hold(samples)

    def flush(self) -> bool:
        """Replay what is held now (a poll loop ending). True when nothing is left."""
        with self.lock:
            if not self.held and not self.lost:
                return True
            try:
                self._replay()
            except Exception as exc:
                if not _is_outage(exc):
                    raise
                self._failed(exc)
                return False
            return True

    def stats(self) -> dict:
        return {"values_held": self.held_samples, "values_dropped": self.dropped_total,
                "values_replayed": self.replayed_total}

    # --- inside the lock ----------------------------------------------------------------------------------------
    def _failed(self, exc: BaseException) -> None:
        if not self.held and not self.lost:
            logger.warning("Values cannot be recorded (%s): holding them (up to %d samples) until it is back",
                           exc, self.limit())
        self.last_error = str(exc)[:300]
        self.retry_at = self.clock() + self.retry_seconds()

    def _hold(self, samples: list[Sample]) -> None:
        self.held.append(samples)
        self.held_samples += len(samples)
        limit = self.limit()
        while self.held_samples > limit and len(self.held) > 1:
            oldest = self.held.popleft()
            self.held_samples -= len(oldest)
            for s in oldest:
                ts = s.ts if s.ts is not None else time.time()
                if s.tag_id not in self.lost or ts < self.lost[s.tag_id]:
                    self.lost[s.tag_id] = ts
                self.lost_last_ts = max(self.lost_last_ts, ts)
            if not self.lost_samples:
                logger.error("Value outbox full (%d samples): dropping the oldest held values; their tags will be "
                             "marked BAD %s in history", limit, DATA_LOST)
            self.lost_samples += len(oldest)
            self.dropped_total += len(oldest)

    def _replay(self) -> None:
        if self.lost:
            # The hole first: a BAD sample at each tag's first lost time, so the history reads GOOD … BAD (data
            # lost) … GOOD (the oldest held sample) instead of two GOOD samples joined across the gap.
            markers = [Sample(tid, None, Quality.BAD, DATA_LOST, ts) for tid, ts in sorted(self.lost.items())]
            self.sink(markers)
            lost, self.lost = self.lost, {}
            count, first, last = self.lost_samples, min(lost.values()), self.lost_last_ts
            self.lost_samples, self.lost_last_ts = 0, 0.0
            logger.error("Value outbox: %d samples of %d tags were dropped during the outage (%.1f s of data); "
                         "marked BAD %s", count, len(lost), last - first, DATA_LOST)
            if self.on_drop is not None:
                try:
                    self.on_drop(tags=len(lost), samples=count, first_ts=first, last_ts=last)
                except Exception:  # noqa: BLE001 - the BAD markers are in history; the audit is the extra
                    logger.exception("Value outbox: auditing the drop failed")
        while self.held:
            chunk: list[Sample] = []
            taken = 0
            for batch in self.held:
                if chunk and len(chunk) + len(batch) > REPLAY_CHUNK:
                    break
                chunk.extend(batch)
                taken += 1
            self.sink(chunk)  # raises on a new outage: the chunk stays held, in order
            for _ in range(taken):
                self.held.popleft()
            self.held_samples -= len(chunk)
            self.replayed_total += len(chunk)
        if self.replayed_total:
            logger.info("Value outbox: replayed the held values (%d samples since start)", self.replayed_total)
        self.retry_at = 0.0
        self.last_error = ""
