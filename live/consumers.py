"""The WebSocket API at /ws?token=... (seed 000 "WEBSOCKET — REAL-TIME TAG UPDATES").

Client → server (JSON text frames; an optional "id" is echoed in the answer):
  {"type": "subscribe", "tags": ["Reactor_Temp", ...]}   (the seed's message)
        → one {"type": "update", "tag", "value", "quality", "ts", "subscription": 1} per tag with its current
          value (null, null, null before it has one), so a client written from the seed works from its first
          frame; then one {"type": "update", "tag", "value", "quality", "ts"} per change ("substatus" follows
          when the quality has one).
  ... "batch": true → the initial values and then each recorded batch as one {"type": "batch", "updates": [...]}.
  ... "snapshot": true → the initial values as one {"type": "snapshot", "subscription": 1, "batch": false,
          "values": [{"tag","value","quality","ts"}, ...]} (the HMI asks for this: one frame for a whole page).
  {"type": "unsubscribe", "subscription": 1} | {"type": "unsubscribe", "tags": [...]} | {"type": "unsubscribe"}
        → {"type": "unsubscribed", "subscriptions": [ended ids], "tags": [names no longer delivered]}
  {"type": "ping"} → {"type": "pong"}
A subscribe naming some unknown tags subscribes the others, after {"type": "error", "detail": "Unknown tags: ...",
"tags": [the unknown], "partial": true}; one naming only unknown tags is refused.
Anything wrong → {"type": "error", "detail": "..."} and nothing changes; so does a client that sends more than
MESSAGES_PER_WINDOW messages in RATE_WINDOW_SECONDS (subscribing costs a query).

A subscription is one subscribe message, whatever the number of tags in it (seed: "10 concurrent subscriptions
per client"): an HMI page subscribes its tags at once, so counting tags would cap a page at ten values.
At most settings.KILN_WS_MAX_SUBSCRIPTIONS per client (its login session or API key) over all its connections
in every web process, counted in Redis (live.limits, live.quota); at most MAX_TAGS_PER_SUBSCRIPTION tags in each.
A change is delivered once per connection even when two subscriptions name its tag; it goes in a batch frame
when any subscription naming the tag asked for batches.

Slow clients: a connection keeps at most one pending frame per tag (the latest; intermediate values are
dropped and counted; live.delivery). Under daphne the connection registers as a Twisted push producer on its transport
(live.daphne_flow), so when the socket's buffer passes its high-water mark we stop writing and resume when it
drains. Memory per connection is therefore bounded by its subscribed tags, never by the change rate.

The socket closes with code 4001 when its token expires, its session is logged out, or its API key is revoked
(checked by the process's LiveHub every KILN_WS_AUTH_CHECK_SECONDS for all connections at once).

Other apps extend the consumer without editing it, through settings (dotted paths, resolved once when the app
loads): KILN_LIVE_MESSAGE_HANDLERS maps a client message type to `async fn(consumer, content)`,
KILN_LIVE_EVENT_HANDLERS a channel-layer event type to `async fn(consumer, message)` (for a group the handler
joined with `consumer.channel_layer.group_add(...)`). `consumer.reserve_subscription()` counts toward the limit.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
import redis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.utils.module_loading import import_string

from accounts.ws_auth import credential_key
from live.daphne_flow import install_flow_control
from live.delivery import DeliveryMixin, Outbox
from live.hub import get_hub
from live.limits import SubscriptionLimitMixin
from live.publisher import snapshot_entry
from tags.live import live_get_many
from tags.selectors import tags_refused

logger = logging.getLogger(__name__)

__all__ = ["LiveConsumer", "load_handlers", "CLOSE_AUTH", "MAX_TAGS_PER_SUBSCRIPTION"]

CLOSE_AUTH = 4001  # token expired, logged out or revoked
MAX_TAGS_PER_SUBSCRIPTION = 5000
# Client messages per connection and window; beyond it a message gets an error and is otherwise ignored.
MESSAGES_PER_WINDOW = 60
RATE_WINDOW_SECONDS = 10.0

MessageHandler = Callable[["LiveConsumer", dict], Awaitable[None]]
# Other apps' handlers, resolved from settings by load_handlers() (LiveConfig.ready(), and again when a test
# overrides the settings); filled in place, so the consumer's lookups stay plain dict reads.
_message_handlers: dict[str, MessageHandler] = {}
_event_handlers: dict[str, MessageHandler] = {}


def load_handlers() -> None:
    """Resolve KILN_LIVE_MESSAGE_HANDLERS and KILN_LIVE_EVENT_HANDLERS (type → dotted path) with import_string.

    A wrong path, or a message type the consumer answers itself, fails at startup rather than on a client's
    first message.
    """
    messages = {kind: import_string(path) for kind, path in settings.KILN_LIVE_MESSAGE_HANDLERS.items()}
    events = {kind: import_string(path) for kind, path in settings.KILN_LIVE_EVENT_HANDLERS.items()}
    taken = sorted(set(messages) & set(LiveConsumer.message_handlers))
    if taken:
        raise ImproperlyConfigured(f"KILN_LIVE_MESSAGE_HANDLERS names message types /ws answers itself: {taken}")
    _message_handlers.clear()
    _message_handlers.update(messages)
    _event_handlers.clear()
    _event_handlers.update(events)


@dataclass(slots=True)
class Subscription:
    id: int
    names: dict[int, str]  # tag id → name, in the order the client asked
    batch: bool


class LiveConsumer(SubscriptionLimitMixin, DeliveryMixin, AsyncJsonWebsocketConsumer):
    """One WebSocket connection: its subscriptions, its outbox, its credential."""

    # Client message type → method; other apps add theirs in settings.KILN_LIVE_MESSAGE_HANDLERS.
    message_handlers: dict[str, str] = {
        "subscribe": "handle_subscribe",
        "unsubscribe": "handle_unsubscribe",
        "ping": "handle_ping",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.principal = None
        self.subscriptions: dict[int, Subscription] = {}
        self.extra_subscriptions = 0
        self._reserved = 0  # slots taken in Redis for a subscribe still being made
        self._quota_dropped = False
        self.refs: dict[int, int] = {}  # tag id → number of subscriptions naming it
        self.batch_refs: dict[int, int] = {}  # tag id → number of batch subscriptions naming it
        self.outbox = Outbox()
        self.closing = False
        self.flow_controlled = False
        self.hub = None
        self._ids = itertools.count(1)
        self._expiry: asyncio.TimerHandle | None = None
        self._window_start = 0.0
        self._window_count = 0

    # --- connection lifecycle --------------------------------------------------------------------------------

    async def connect(self):
        principal = self.scope.get("user")
        if principal is None or not getattr(principal, "is_authenticated", False):
            logger.info("WebSocket refused at handshake: %s", self.scope.get("auth_error", "not authenticated"))
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.principal = principal
        self.hub = get_hub()
        try:
            await self.hub.ensure_started()
        except Exception:
            logger.exception("WebSocket refused: the live hub cannot reach the channel layer")
            await self.close()
            return
        await self.accept()
        self.hub.attach(self)
        self.flow_controlled = install_flow_control(self)
        expires_at = getattr(principal, "expires_at", None)
        if expires_at is not None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(max(0.0, expires_at - time.time()),
                                           lambda: asyncio.ensure_future(self.close_revoked()))

    async def disconnect(self, code):
        if self._expiry is not None:
            self._expiry.cancel()
        if self.hub is not None:
            self.hub.detach(self, list(self.refs))
        self.outbox.pending.clear()
        await self._quota_drop()

    def credential_key(self) -> tuple | None:
        if self.principal is None or self.closing:
            return None
        return credential_key(self.principal, self.scope.get("kiln_token", ""))

    async def close_revoked(self) -> None:
        """The token expired or was logged out/revoked: stop delivering and close with 4001."""
        if self.closing:
            return
        self.closing = True
        if self.hub is not None:
            self.hub.detach(self, list(self.refs))
        self.outbox.pending.clear()
        await self.close(code=CLOSE_AUTH)

    # --- dispatch --------------------------------------------------------------------------------------------

    @classmethod
    async def decode_json(cls, text_data):
        return orjson.loads(text_data)

    @classmethod
    async def encode_json(cls, content):
        return orjson.dumps(content).decode()

    async def dispatch(self, message):
        handler = _event_handlers.get(message.get("type"))
        if handler is not None:
            await handler(self, message)
        else:
            await super().dispatch(message)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self.send_error("Send JSON text frames.")
            return
        try:
            content = orjson.loads(text_data)
        except orjson.JSONDecodeError:
            await self.send_error("Invalid JSON.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error('Each message is a JSON object with a "type".')
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if self.closing:
            return
        if not self._within_rate():
            await self.send_error(f"Too many messages: at most {MESSAGES_PER_WINDOW} per {RATE_WINDOW_SECONDS:.0f} s "
                                  f"on a connection; this one was ignored.", content)
            return
        kind = content["type"]
        name = self.message_handlers.get(kind)
        if name is not None:
            await getattr(self, name)(content)
            return
        handler = _message_handlers.get(kind)
        if handler is not None:
            await handler(self, content)
            return
        known = sorted({*self.message_handlers, *_message_handlers})
        await self.send_error(f"Unknown message type '{kind}'; expected one of: {', '.join(known)}.", content)

    def _within_rate(self) -> bool:
        """A fixed window per connection: subscribes cost SQL, so a client cannot spin them in a loop."""
        now = time.monotonic()
        if now - self._window_start >= RATE_WINDOW_SECONDS:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        return self._window_count <= MESSAGES_PER_WINDOW

    async def send_error(self, detail: str, request: dict | None = None, **extra) -> None:
        doc = {"type": "error", "detail": detail, **extra}
        if request is not None:
            doc["request"] = request.get("type")
            if "id" in request:
                doc["id"] = request["id"]
        await self.send_json(doc)

    async def reply(self, request: dict, doc: dict) -> None:
        if "id" in request:
            doc["id"] = request["id"]
        await self.send_json(doc)

    # --- handlers --------------------------------------------------------------------------------------------

    async def handle_ping(self, content):
        await self.reply(content, {"type": "pong"})

    async def handle_subscribe(self, content):
        names = content.get("tags")
        batch = content.get("batch", False)
        as_snapshot = content.get("snapshot", False)
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            await self.send_error('"tags" must be a non-empty list of tag names.', content)
            return
        if not isinstance(batch, bool):
            await self.send_error('"batch" must be true or false.', content)
            return
        if not isinstance(as_snapshot, bool):
            await self.send_error('"snapshot" must be true or false.', content)
            return
        names = list(dict.fromkeys(names))
        if len(names) > MAX_TAGS_PER_SUBSCRIPTION:
            await self.send_error(f"At most {MAX_TAGS_PER_SUBSCRIPTION} tags per subscription.", content)
            return
        if not await self._take_slot(content):
            return
        made = False
        try:
            made = await self._subscribe(content, names, batch, as_snapshot)
        finally:
            self._reserved -= 1
            if not made:
                await self._quota_sync()  # give the slot back

    async def _subscribe(self, content, names: list[str], batch: bool, as_snapshot: bool) -> bool:
        """Make the subscription (its slot is taken); False when it was refused (an error frame went out)."""
        try:
            found = await database_sync_to_async(_tag_ids_by_name)(names)
        except DatabaseError:
            logger.warning("Tag lookup failed; subscription not made", exc_info=True)
            await self.send_error("Tags cannot be looked up right now; try again.", content)
            return False
        unknown = [n for n in names if n not in found]
        if unknown and len(unknown) == len(names):
            await self.send_error(f"Unknown tags: {', '.join(unknown)}", content, tags=unknown)
            return False
        if unknown:
            # One misspelt or deleted name must not blank a whole page: the rest are subscribed, and this frame
            # (before the subscription's first frame) names what was left out.
            names = [n for n in names if n in found]
            await self.send_error(f"Unknown tags: {', '.join(unknown)}; subscribed to the other {len(names)}.",
                                  content, tags=unknown, partial=True)
        refused = tags_refused(self.principal, [(found[n], n) for n in names])
        if refused:
            await self.send_error(f"Not permitted to read: {', '.join(refused)}", content, tags=refused)
            return False
        if self.closing:  # the lookup above awaited
            return False
        sub = Subscription(next(self._ids), {found[n]: n for n in names}, batch)
        self.outbox.hold += 1
        try:
            # Watch first, read the snapshot second: a change recorded in between is caught by the hub and
            # waits in the outbox, so nothing falls between the snapshot and the first update.
            self._add(sub)
            ids = list(sub.names)
            try:
                values = await database_sync_to_async(live_get_many)(ids)
            except redis.RedisError:
                logger.warning("Snapshot read failed; subscription not made", exc_info=True)
                self._remove(sub, None)
                await self.send_error("Live values are unavailable right now; try again.", content)
                return False
            pending = self.outbox.pending
            snapshot = []
            for tid in ids:
                lv = values.get(tid)
                if lv is None:
                    snapshot.append({"tag": sub.names[tid], "value": None, "quality": None, "ts": None})
                    continue
                snapshot.append(snapshot_entry(sub.names[tid], lv))
                queued = pending.get(tid)
                if queued is not None and queued[0] < lv.ts:
                    del pending[tid]  # older than what the snapshot shows
            if as_snapshot:
                await self.reply(content, {"type": "snapshot", "subscription": sub.id, "batch": batch,
                                           "values": snapshot})
            else:
                await self._send_initial(content, sub, snapshot)
        finally:
            self.outbox.hold -= 1
        await self.flush()
        return True

    async def _send_initial(self, request: dict, sub: Subscription, entries: list[dict]) -> None:
        """The initial values in the form updates take (the seed's {tag, value, quality, ts}), so a client that
        reads every frame as an update works from the first one. Each carries the subscription id (and the
        request's "id"), which a client needs to unsubscribe it."""
        extra = {"subscription": sub.id}
        if "id" in request:
            extra["id"] = request["id"]
        frames = [{"type": "update", **e, **extra} for e in entries]
        if sub.batch:
            await self.send_json({"type": "batch", **extra, "updates": frames})
        else:
            for frame in frames:
                await self.send_json(frame)

    async def handle_unsubscribe(self, content):
        sub_id = content.get("subscription")
        names = content.get("tags")
        if sub_id is not None:
            if sub_id not in self.subscriptions:
                await self.send_error(f"No subscription {sub_id!r} on this connection.", content)
                return
            ended, removed = [sub_id], self._remove(self.subscriptions[sub_id], None)
        elif names is not None:
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                await self.send_error('"tags" must be a non-empty list of tag names.', content)
                return
            subscribed = {n for s in self.subscriptions.values() for n in s.names.values()}
            missing = [n for n in dict.fromkeys(names) if n not in subscribed]
            if missing:
                await self.send_error(f"Not subscribed: {', '.join(missing)}", content, tags=missing)
                return
            wanted = set(names)
            ended, removed = [], []
            for sub in list(self.subscriptions.values()):
                drop = {tid for tid, n in sub.names.items() if n in wanted}
                if drop:
                    removed += self._remove(sub, drop)
                    if sub.id not in self.subscriptions:
                        ended.append(sub.id)
        else:
            ended, removed = list(self.subscriptions), []
            for sub in list(self.subscriptions.values()):
                removed += self._remove(sub, None)
        if ended:
            await self._quota_sync()
        await self.reply(content, {"type": "unsubscribed", "subscriptions": ended,
                                   "tags": list(dict.fromkeys(removed))})

    # --- bookkeeping -----------------------------------------------------------------------------------------

    def _add(self, sub: Subscription) -> None:
        self.subscriptions[sub.id] = sub
        new = []
        for tid in sub.names:
            n = self.refs.get(tid, 0)
            if n == 0:
                new.append(tid)
            self.refs[tid] = n + 1
            if sub.batch:
                self.batch_refs[tid] = self.batch_refs.get(tid, 0) + 1
        self.hub.watch(self, new)

    def _remove(self, sub: Subscription, tag_ids: set[int] | None) -> list[str]:
        """Drop `tag_ids` (all when None) from `sub`; returns the names no longer delivered at all."""
        drop = set(sub.names) if tag_ids is None else tag_ids
        gone_ids, gone_names = [], []
        for tid in drop:
            name = sub.names.pop(tid)
            n = self.refs[tid] - 1
            if n:
                self.refs[tid] = n
            else:
                del self.refs[tid]
                gone_ids.append(tid)
                gone_names.append(name)
                self.outbox.pending.pop(tid, None)
            if sub.batch:
                b = self.batch_refs[tid] - 1
                if b:
                    self.batch_refs[tid] = b
                else:
                    del self.batch_refs[tid]
        if not sub.names:
            del self.subscriptions[sub.id]
        self.hub.unwatch(self, gone_ids)
        return gone_names

def _tag_ids_by_name(names: list[str]) -> dict[str, int]:
    from tags.models import Tag

    return dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
