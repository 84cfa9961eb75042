"""Batches on the /ws WebSocket: handlers plugged into live.consumers.LiveConsumer through settings
(KILN_LIVE_MESSAGE_HANDLERS: "subscribe_batch", "unsubscribe_batch"; KILN_LIVE_EVENT_HANDLERS: "batch.update").

    {"type": "subscribe_batch", "batch": 12}   → {"type": "batch_subscribed", "batch": 12, "status",
                                                   "current_phase", "record_hash"}
                                                 then {"type": "batch", "batch": 12, "event": ...} per change
    {"type": "unsubscribe_batch", "batch": 12} → {"type": "batch_unsubscribed", "batch": 12}

Every role may read batches (Operator+), so any authenticated connection may follow one. Each followed batch
takes one of the connection's subscription slots.
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from batches.push import batch_group
from batches.selectors import batch_get, batch_record
from scada.errors import NotFound

__all__ = ["handle_subscribe_batch", "handle_unsubscribe_batch", "on_batch_update"]

MAX_BATCHES = 20


def _batch_id(content: dict) -> int | None:
    value = content.get("batch")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        return None
    return value


def _state(batch_id: int) -> dict:
    from accounts.signatures import signature_content_hash

    batch = batch_get(pk=batch_id)
    return {"status": batch.status, "current_phase": batch.current_phase,
            "record_hash": signature_content_hash(batch_record(batch))}


async def handle_subscribe_batch(consumer, content: dict) -> None:
    batch_id = _batch_id(content)
    if batch_id is None:
        await consumer.send_error("subscribe_batch needs \"batch\": a batch id (integer).", content)
        return
    followed = getattr(consumer, "batches_followed", set())
    if batch_id in followed:
        await consumer.send_error(f"Already following batch {batch_id} on this connection.", content)
        return
    if len(followed) >= MAX_BATCHES:
        await consumer.send_error(f"At most {MAX_BATCHES} batches per connection.", content)
        return
    try:
        await database_sync_to_async(batch_get)(pk=batch_id)
    except NotFound as exc:
        await consumer.send_error(exc.detail, content)
        return
    if not await consumer.reserve_subscription(content):
        return
    consumer.batches_followed = followed | {batch_id}
    # Join first, read second: a change in between is pushed after this reply, so none is missed.
    group = batch_group(batch_id)
    await consumer.channel_layer.group_add(group, consumer.channel_name)
    consumer.groups = [*consumer.groups, group]  # the base consumer leaves its groups on disconnect
    state = await database_sync_to_async(_state)(batch_id)
    await consumer.reply(content, {"type": "batch_subscribed", "batch": batch_id, **state})


async def handle_unsubscribe_batch(consumer, content: dict) -> None:
    batch_id = _batch_id(content)
    followed = getattr(consumer, "batches_followed", set())
    if batch_id is None or batch_id not in followed:
        await consumer.send_error("Not following that batch.", content)
        return
    consumer.batches_followed = followed - {batch_id}
    group = batch_group(batch_id)
    await consumer.channel_layer.group_discard(group, consumer.channel_name)
    consumer.groups = [g for g in consumer.groups if g != group]
    consumer.release_subscription()
    await consumer.reply(content, {"type": "batch_unsubscribed", "batch": batch_id})


async def on_batch_update(consumer, message: dict) -> None:
    """A batch_push message (batches.push.BATCH_EVENT) reached a connection following that batch."""
    if message.get("batch") not in getattr(consumer, "batches_followed", set()) or consumer.closing:
        return
    await consumer.send_json({"type": "batch", "batch": message["batch"], "event": message.get("event")})
