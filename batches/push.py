"""Live batch push: a batch's change of state → one channel-layer message to its group → its open pages.

Services call `batch_push_on_commit(batch, event)` inside the transaction of the change, so nothing is pushed
for a change that rolled back. Clients join a batch's group with {"type": "subscribe_batch", "batch": id}
(batches.live); the HMI batch page reloads on a push instead of polling.
"""

from __future__ import annotations

import logging

from channels.layers import get_channel_layer
from django.db import transaction

from scada.channels import LoopPublisher

logger = logging.getLogger(__name__)

__all__ = ["BATCH_EVENT", "batch_group", "batch_push", "batch_push_on_commit"]

BATCH_EVENT = "batch.update"
PUBLISH_TIMEOUT = 2.0

_publisher = LoopPublisher("kiln-batch-push", timeout=PUBLISH_TIMEOUT)


def batch_group(batch_id: int) -> str:
    return f"batches.{int(batch_id)}"


def batch_push(message: dict) -> None:
    """Send now. A push failure never fails the caller: the change is stored, and a page resubscribing compares
    the record hash it shows with the current one."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        if not _publisher.group_send(layer, batch_group(message["batch"]), {"type": BATCH_EVENT, **message}):
            logger.warning("Batch push for batch %s timed out", message["batch"])
    except Exception:
        logger.exception("Batch push for batch %s failed", message["batch"])


def batch_push_on_commit(batch, event: str) -> None:
    """Push `event` (start, phase_complete, comment, deviation, abort, review_sign, close) once committed."""
    batch_id = batch.pk
    transaction.on_commit(lambda: batch_push({"batch": batch_id, "event": event}))
