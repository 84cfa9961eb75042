"""Live push, producer side: recorded changes → one channel-layer message per batch → one hub per web process.

`push_changes` is registered as the value consumer "push" in `LiveConfig.ready()`: every batch that
`tag_values_record` hands over becomes ONE `group_send` to the group `tags.live`, whatever its size and however
many clients watch it. Each change is encoded once, here, into its seed-form JSON frame; nobody re-encodes it.
The receiving side is `live.hub.LiveHub` (one per daphne process), which hands each connection the frames of
the tags it subscribed to. So the channel layer carries one message per batch per web process, not one per tag
change or per client, and a client's filter costs a dict lookup, not a Redis round trip.

The group and event names ("tags.live", "tags.batch", "tags.ping") predate the `live` app and are kept: they
are the wire between worker processes (producers) and web processes (hubs), which a rolling deploy restarts
at different moments.

Why not one group per tag, or per client group membership: with channels_redis a group_send reads the whole
member list and writes a message naming every member; per tag change that is thousands of Redis commands and
msgpack copies a second, and the consumer side pays a dispatch (and a thread hop for close_old_connections) per
message. bench/bench_push.py measures the difference side by side.

Transport: the channel layer alias "live" (settings: Redis pub/sub, one PUBLISH per batch, pushed to the hubs)
when configured, else "default". Pub/sub is at most once, so batches carry their producer's id and a sequence
number; a hub that sees a gap, or whose pings to itself stop coming back, resends current values from the live
table (`resync`): a lost message may delay a value, never freeze a stale one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
from channels.layers import get_channel_layer

from scada.api.renderers import iso_utc
from scada.channels import LoopPublisher

if TYPE_CHECKING:
    from tags.values import Change


logger = logging.getLogger(__name__)

__all__ = ["LIVE_GROUP", "LIVE_LAYER", "BATCH_EVENT", "PING_EVENT", "live_layer", "change_frame", "value_frame",
           "snapshot_entry", "push_changes"]

LIVE_GROUP = "tags.live"
LIVE_LAYER = "live"
BATCH_EVENT = "tags.batch"
PING_EVENT = "tags.ping"
PUBLISH_TIMEOUT = 2.0


def live_layer():
    """The channel layer for the live fan-out: alias "live" (Redis pub/sub) when configured, else the default."""
    return get_channel_layer(LIVE_LAYER) or get_channel_layer()


_second: list = [None, ""]  # (the last whole second formatted, its text): a batch's changes share a few seconds


def _iso(ts: float | None) -> str | None:
    """iso_utc of an epoch time, formatting each whole second once (strftime was most of a change frame's cost).

    Microseconds are rounded half-even as datetime.fromtimestamp rounds them, so the text is exactly iso_utc's.
    """
    if ts is None:
        return None
    if ts < 0:
        return iso_utc(datetime.fromtimestamp(ts, tz=UTC))
    frac, whole = math.modf(ts)
    us = round(frac * 1e6)
    whole = int(whole)
    if us >= 1_000_000:
        whole, us = whole + 1, us - 1_000_000
    cached = _second
    if cached[0] != whole:
        cached[1] = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        cached[0] = whole
    return f"{cached[1]}.{us // 1000:03d}Z" if us else cached[1] + "Z"


def value_frame(name: str, value, quality, substatus, ts: float | None) -> str:
    """One update in the seed's form {"tag","value","quality","ts"} (+ "substatus" when there is one)."""
    doc = {"type": "update", "tag": name, "value": value, "quality": quality, "ts": _iso(ts)}
    if substatus:
        doc["substatus"] = substatus
    return orjson.dumps(doc).decode()


def snapshot_entry(name: str, lv) -> dict:
    """A live value (tags.live.LiveValue) in the seed's form, for snapshots."""
    doc = {"tag": name, "value": lv.value, "quality": lv.quality, "ts": _iso(lv.ts)}
    if lv.substatus:
        doc["substatus"] = lv.substatus
    return doc


def change_frame(change: Change) -> str:
    return value_frame(change.name, change.value, change.quality, change.substatus, change.ts)


def push_changes(changes: list[Change]) -> None:
    """Value consumer: broadcast one batch of changes as ONE channel-layer message to every web process.

    Runs immediately rather than on transaction commit: the live table (Redis) already holds these values, and
    the push must agree with what a snapshot read at the same moment would show.
    """
    if not changes:
        return
    layer = live_layer()
    if layer is None:
        return
    message = {
        "type": BATCH_EVENT,
        "src": _publisher.source_id(),
        "seq": _publisher.next_seq(),
        "ids": [c.tag_id for c in changes],
        "ts": [c.ts for c in changes],
        "frames": [change_frame(c) for c in changes],
    }
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        _publisher.group_send(layer, LIVE_GROUP, message)
    else:
        # Called synchronously from inside an event loop (a test, an async driver): schedule it on that loop.
        task = loop.create_task(layer.group_send(LIVE_GROUP, message))
        task.add_done_callback(_log_failure)


class _Publisher(LoopPublisher):
    """The live push's loop publisher, which also numbers this process's batches (source id + sequence)."""

    def __init__(self):
        super().__init__("kiln-live-push", timeout=PUBLISH_TIMEOUT)
        self._source: tuple[int, str] | None = None
        self._seq = itertools.count(1)

    def source_id(self) -> str:
        """This process's name in batch messages; hubs number-check each source to notice lost batches."""
        if self._source is None or self._source[0] != os.getpid():
            self._source = (os.getpid(), uuid.uuid4().hex[:12])
            self._seq = itertools.count(1)
        return self._source[1]

    def next_seq(self) -> int:
        return next(self._seq)

    def group_send(self, layer, group: str, message: dict) -> bool:
        sent = super().group_send(layer, group, message)
        if not sent:
            logger.error("Live push of a batch of %d changes timed out; clients will resync on reconnect",
                         len(message["ids"]))
        return sent


_publisher = _Publisher()


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Live push of a batch failed", exc_info=task.exception())
