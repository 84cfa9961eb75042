"""Alarms on the /ws WebSocket: handlers plugged into live.consumers.LiveConsumer through settings
(KILN_LIVE_MESSAGE_HANDLERS: "subscribe_alarms", "unsubscribe_alarms"; KILN_LIVE_EVENT_HANDLERS: "alarm.update").

    {"type": "subscribe_alarms"}   → {"type": "alarms_snapshot", "alarms": [annunciated alarms]}
                                     then {"type": "alarms", "alarms": [changed alarms]} per transaction
    {"type": "unsubscribe_alarms"} → {"type": "alarms_unsubscribed"}

The alarm subscription counts toward the connection's subscription limit. Pushed alarms carry `seq`, which
grows with every change of an alarm, so a client can ignore a push older than what its snapshot shows.
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from alarms.push import ALARMS_GROUP
from alarms.selectors import alarms_snapshot

__all__ = ["handle_subscribe_alarms", "handle_unsubscribe_alarms", "on_alarm_update"]


async def handle_subscribe_alarms(consumer, content: dict) -> None:
    if getattr(consumer, "alarms_subscribed", False):
        await consumer.send_error("Already subscribed to alarms on this connection.", content)
        return
    if not await consumer.reserve_subscription(content):
        return
    consumer.alarms_subscribed = True
    # Join first, snapshot second: a change in between is queued behind this handler and delivered after the
    # snapshot, so nothing is missed (at worst a push repeats what the snapshot showed; `seq` tells).
    await consumer.channel_layer.group_add(ALARMS_GROUP, consumer.channel_name)
    consumer.groups = [*consumer.groups, ALARMS_GROUP]  # the base consumer leaves its groups on disconnect
    snapshot = await database_sync_to_async(alarms_snapshot)()
    await consumer.reply(content, {"type": "alarms_snapshot", "alarms": snapshot})


async def handle_unsubscribe_alarms(consumer, content: dict) -> None:
    if not getattr(consumer, "alarms_subscribed", False):
        await consumer.send_error("Not subscribed to alarms.", content)
        return
    consumer.alarms_subscribed = False
    await consumer.channel_layer.group_discard(ALARMS_GROUP, consumer.channel_name)
    consumer.groups = [g for g in consumer.groups if g != ALARMS_GROUP]
    consumer.release_subscription()
    await consumer.reply(content, {"type": "alarms_unsubscribed"})


async def on_alarm_update(consumer, message: dict) -> None:
    """An alarms_broadcast message (alarms.push.ALARM_EVENT) reached a connection that joined the alarms group."""
    if not getattr(consumer, "alarms_subscribed", False) or consumer.closing:
        return
    await consumer.send_json({"type": "alarms", "alarms": message["alarms"]})

