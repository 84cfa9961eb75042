"""Recording off the poll schedule: a Modbus poll loop hands each batch to this process's recorder thread.

Why (issue 18): recording a batch (tags.values.tag_values_record: Redis round trips, then the live push, the
historian buffer and alarm evaluation) ran inside the poll cycle. In bench/bench_plant.py it was ~90 % of the
cycle's p99 (169 of 192 ms at 300 changes/s on the shared 2-core machine), so whatever recording cost — a slow
Redis, an alarm flood, a busy machine — skipped poll slots. Now the loop reads, hands the batch over and goes back
to its schedule; the thread records batches in the order they were handed over.

- One thread per process, started on first use (so in the prefork child, after the fork), one queue.
- Bounded: when MAX_PENDING batches already wait, the loop records the batch itself (it slows down and its
  overruns show it, as before) rather than letting memory grow or dropping anything.
- A loop's end drains the queue before the lease is handed on (drain), so a successor's newer values never
  overtake this loop's older ones; a write's read-back is recorded after what waits (record_now).
- Outages are the outbox's business (drivers.outbox, the sink here): it never raises for one. Any other error is
  logged and counted (`record_errors` in the connection stats); the thread goes on.
- A process killed loses what waits here (a few cycles at most): the supervisor marks the tags BAD meanwhile.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

__all__ = ["BackgroundRecorder", "MAX_PENDING", "recorder_enabled"]

MAX_PENDING = 50  # batches: five seconds of a 100 ms scan class


def recorder_enabled() -> bool:
    """KILN_DRIVERS_RECORDER (default on); off records in the poll cycle as before issue 18 (bench_plant --compare)."""
    from scada.env import envbool

    return envbool("KILN_DRIVERS_RECORDER", True)


class BackgroundRecorder:
    """Callable like the sink it wraps; records on its own thread. See the module docstring."""

    def __init__(self, sink: Callable[[list], object], *, max_pending: int = MAX_PENDING):
        self.sink = sink
        self.max_pending = max_pending
        self._lock = threading.Lock()  # held while recording, by the thread or by record_now/inline records
        self._pid = None
        self._queue: queue.Queue | None = None
        self.record_ms: deque = deque(maxlen=1000)
        self.errors = 0
        self.inline = 0

    def _started(self) -> queue.Queue:
        if self._pid != os.getpid():  # first use in this process (a forked copy's thread did not survive the fork)
            self._queue = queue.Queue()
            self._lock = threading.Lock()
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="kiln-recorder", daemon=True).start()
        return self._queue

    def __call__(self, samples: list) -> None:
        q = self._started()
        if q.qsize() >= self.max_pending:
            self.inline += 1
            self.record_now(samples)
            return
        q.put(samples)

    def record_now(self, samples: list) -> None:
        """Record in the caller's thread, after everything already handed over (a write's read-back)."""
        self.drain()
        self._record(samples)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every batch handed over so far is recorded. False on timeout."""
        q = self._started()
        deadline = time.monotonic() + timeout
        while q.unfinished_tasks:
            if time.monotonic() > deadline:
                logger.warning("Recorder: %d batches still waiting after %.0f s", q.unfinished_tasks, timeout)
                return False
            time.sleep(0.002)
        return True

    def _run(self) -> None:
        q = self._queue
        while True:
            samples = q.get()
            try:
                self._record(samples)
            finally:
                q.task_done()

    def _record(self, samples: list) -> None:
        with self._lock:
            started = time.monotonic()
            try:
                self.sink(samples)
            except Exception:  # noqa: BLE001 - the thread must go on; outages never get here (the outbox holds)
                self.errors += 1
                logger.exception("Recording %d samples failed", len(samples))
            self.record_ms.append((time.monotonic() - started) * 1000.0)

    def stats(self) -> dict:
        ordered = sorted(self.record_ms)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else None
        return {**(self.sink.stats() if hasattr(self.sink, "stats") else {}),
                "record_ms_p99": None if p99 is None else round(p99, 3),
                "record_queue": self._queue.qsize() if self._queue is not None else 0,
                "record_inline": self.inline, "record_errors": self.errors}

    def flush(self) -> None:
        """Drain, then let the wrapped sink replay what it holds (drivers.outbox.ValueOutbox.flush)."""
        self.drain()
        if hasattr(self.sink, "flush"):
            self.sink.flush()
