"""Values per second over a sliding window, for the connection status (`values_per_s`)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateMeter"]


class RateMeter:
    """Counts values handed to the values path; `rate()` is their number per second over the last `window` s.

    One entry per batch (not per value), so the cost is one append per poll cycle or notification flush.
    """

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.clock = clock
        self.started = clock()
        self.batches: deque[tuple[float, int]] = deque()
        self.in_window = 0

    def add(self, n: int) -> None:
        if n:
            now = self.clock()
            self.batches.append((now, n))
            self.in_window += n
            self._trim(now)

    def _trim(self, now: float) -> None:
        horizon = now - self.window
        while self.batches and self.batches[0][0] < horizon:
            self.in_window -= self.batches.popleft()[1]

    def rate(self) -> float:
        now = self.clock()
        self._trim(now)
        span = min(self.window, max(now - self.started, 1e-3))
        return round(self.in_window / span, 1)
