"""Live alarm push: state changes → one channel-layer message per transaction → subscribed WebSocket clients.

Services call `alarms_broadcast_on_commit(summaries)` once per transaction (one evaluated batch, or one person's
action), so a flood of transitions costs one `group_send` per batch, never one per alarm, and nothing is pushed
for a change that rolled back. Clients join the group with {"type": "subscribe_alarms"} (alarms.consumers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

__all__ = ["ALARMS_GROUP", "ALARM_EVENT", "alarms_broadcast", "alarms_broadcast_on_commit"]

ALARMS_GROUP = "alarms"
ALARM_EVENT = "alarm.update"
PUBLISH_TIMEOUT = 2.0
MAX_PER_MESSAGE = 500


class _Publisher:
    """One event loop thread per process for the channel layer's Redis connections.

    async_to_sync(group_send) from a worker would build a new loop and Redis connection on every call; the
    driver worker that evaluates alarms calls this once per batch with transitions, so keep one loop.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self.failures = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid() and not loop.is_closed():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                loop = asyncio.new_event_loop()  # after a fork the parent's loop thread does not exist here
                threading.Thread(target=loop.run_forever, name="kiln-alarm-push", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def group_send(self, layer, group: str, message: dict) -> None:
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), self._running_loop())
        try:
            future.result(PUBLISH_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            self.failures += 1
            logger.error("Alarm push of %d changes timed out; clients resync on their next subscribe",
                         len(message["alarms"]))


_publisher = _Publisher()


def alarms_broadcast(summaries: list[dict]) -> None:
    """Send alarm summaries to every subscribed WebSocket client now. A push failure never fails the caller:
    the transition is already journaled, and a client's snapshot on (re)subscribe shows it."""
    if not summaries:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        # A flood can change thousands of alarms in one batch: keep each message (and WebSocket frame) bounded.
        for i in range(0, len(summaries), MAX_PER_MESSAGE):
            message = {"type": ALARM_EVENT, "alarms": summaries[i:i + MAX_PER_MESSAGE]}
            if loop is None:
                _publisher.group_send(layer, ALARMS_GROUP, message)
            else:
                loop.create_task(layer.group_send(ALARMS_GROUP, message))
    except Exception:
        _publisher.failures += 1
        logger.exception("Alarm push of %d changes failed", len(summaries))


def alarms_broadcast_on_commit(summaries: list[dict]) -> None:
    """Broadcast once the surrounding transaction commits (at once outside a transaction)."""
    if summaries:
        transaction.on_commit(lambda: alarms_broadcast(summaries))
