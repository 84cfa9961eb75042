"""Live alarm push: state changes → one channel-layer message per transaction → subscribed WebSocket clients.

Services call `alarms_broadcast_on_commit(summaries)` once per transaction (one evaluated batch, or one person's
action), so a flood of transitions costs one `group_send` per batch, never one per alarm, and nothing is pushed
for a change that rolled back. Clients join the group with {"type": "subscribe_alarms"} (alarms.live).
"""

from __future__ import annotations

import asyncio
import logging

from channels.layers import get_channel_layer
from django.db import transaction

from scada.channels import LoopPublisher

logger = logging.getLogger(__name__)

__all__ = ["ALARMS_GROUP", "ALARM_EVENT", "alarms_broadcast", "alarms_broadcast_on_commit"]

ALARMS_GROUP = "alarms"
ALARM_EVENT = "alarm.update"
PUBLISH_TIMEOUT = 2.0
MAX_PER_MESSAGE = 500


# One loop thread per process: the driver worker evaluating alarms pushes once per batch with transitions.
_publisher = LoopPublisher("kiln-alarm-push", timeout=PUBLISH_TIMEOUT)


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
                if not _publisher.group_send(layer, ALARMS_GROUP, message):
                    logger.error("Alarm push of %d changes timed out; clients resync on their next subscribe",
                                 len(message["alarms"]))
            else:
                loop.create_task(layer.group_send(ALARMS_GROUP, message))
    except Exception:
        _publisher.failures += 1
        logger.exception("Alarm push of %d changes failed", len(summaries))


def alarms_broadcast_on_commit(summaries: list[dict]) -> None:
    """Broadcast once the surrounding transaction commits (at once outside a transaction)."""
    if summaries:
        transaction.on_commit(lambda: alarms_broadcast(summaries))
