"""Delivery to one /ws connection: its outbox (the latest pending frame per tag) and the flush that empties it.

Slow clients: a connection keeps at most one pending frame per tag (intermediate values are dropped and counted),
so its memory is bounded by its subscribed tags, never by the change rate. Under daphne the connection is a
Twisted push producer on its transport (live.daphne_flow): when the socket's buffer passes its high-water mark
`paused` is set and flushing stops until the transport drains and calls flush again.

A mixin of live.consumers.LiveConsumer; the LiveHub calls offer() per change and flush() per batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

__all__ = ["Outbox", "DeliveryMixin"]


@dataclass(slots=True)
class Outbox:
    """Pending frames of one connection: the latest per tag, flushed when the socket can take them."""

    pending: dict[int, tuple[float, str]] = field(default_factory=dict)
    paused: bool = False  # the transport's buffer is over its high-water mark
    hold: int = 0  # a subscribe is between registering and sending its snapshot
    flushing: bool = False
    conflated: int = 0  # intermediate values dropped for this connection


class DeliveryMixin:
    """offer / flush for a consumer with `outbox`, `batch_refs`, `closing`, `hub`, `refs` and `base_send`."""

    def offer(self, tag_id: int, ts: float, frame: str) -> None:
        pending = self.outbox.pending
        if tag_id in pending:
            self.outbox.conflated += 1
        pending[tag_id] = (ts, frame)

    async def flush(self) -> None:
        """Send what is pending: batch-mode tags as one frame, the others one message each.

        Stops as soon as the transport says it is full; what is left stays pending (latest value per tag) until
        the transport drains and resumeProducing() calls flush again.
        """
        box = self.outbox
        if box.flushing:
            return  # the running flush loops until the outbox is empty or paused
        box.flushing = True
        try:
            send = self.base_send
            while box.pending and not box.paused and not box.hold and not self.closing:
                pending, box.pending = box.pending, {}
                batch_refs = self.batch_refs
                if batch_refs:
                    batched = [f for tid, (_, f) in pending.items() if tid in batch_refs]
                    if batched:
                        await send({"type": "websocket.send",
                                    "text": '{"type":"batch","updates":[' + ",".join(batched) + "]}"})
                    items = [(tid, v) for tid, v in pending.items() if tid not in batch_refs]
                else:
                    items = list(pending.items())
                for i, (_, (_, frame)) in enumerate(items):
                    await send({"type": "websocket.send", "text": frame})
                    if box.paused:
                        # The socket is backed up: keep the rest, unless a newer value arrived meanwhile.
                        for tid, value in items[i + 1:]:
                            box.pending.setdefault(tid, value)
                        break
        except Exception as exc:
            # The client went away between its last frame and the disconnect event that is on its way (daphne:
            # "Attempt to send on a closed protocol"). Stop delivering now; disconnect() cleans up the rest.
            logger.debug("WebSocket gone while pushing: %s", exc)
            self._gone()
        finally:
            box.flushing = False

    def _gone(self) -> None:
        self.closing = True
        self.outbox.pending.clear()
        if self.hub is not None:
            self.hub.detach(self, list(self.refs))
