"""Sending to channel-layer groups from synchronous code (Celery workers, sync views) on one loop per process.

`async_to_sync(layer.group_send)` builds a new event loop, thread and Redis connection on every call (3.6 ms a
batch measured in bench/bench_push.py). LoopPublisher keeps one loop thread per process (re-created after a
fork, as Celery's prefork pool does) and waits for each send, so one producer's messages reach Redis in order
and a hung Redis costs the caller at most `timeout`, never a frozen poll cycle.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading

__all__ = ["LoopPublisher"]


class LoopPublisher:
    def __init__(self, name: str, timeout: float = 2.0):
        self.name = name
        self.timeout = timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self.failures = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid() and not loop.is_closed():
            return loop
        with self._lock:
            # After a fork the parent's loop thread does not exist in this process: start our own.
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name=self.name, daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def group_send(self, layer, group: str, message: dict) -> bool:
        """Send and wait. False (and counted) when it timed out; other errors are counted and raised."""
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), self._running_loop())
        try:
            future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            self.failures += 1
            return False
        except Exception:
            self.failures += 1
            raise
        return True
