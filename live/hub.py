"""Live push, receiving side: one hub per event loop that serves WebSockets (one per daphne process).

The hub is the only member of the group `tags.live` from its process (see live.publisher). It keeps an index
tag id → connections and hands each connection the frames of the tags it subscribed to, so a client's filter
costs a dict lookup, not a Redis round trip or a channel-layer dispatch.

Batches carry their producer's id and a sequence number; a hub that sees a gap, or whose pings to itself stop
coming back, resends current values from the live table (`resync`): a lost message may delay a value, never
freeze a stale one.

The hub also sweeps the connections' credentials every KILN_WS_AUTH_CHECK_SECONDS (one pass for all of them,
through accounts.ws_auth.revoked_credentials), so a logged-out session's sockets close with 4001 without each
socket polling Redis on its own; and it renews its connections' subscription counts (live.quota).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from asgiref.sync import sync_to_async
from django.conf import settings

from live.publisher import BATCH_EVENT, LIVE_GROUP, PING_EVENT, live_layer, value_frame

logger = logging.getLogger(__name__)

__all__ = ["LiveHub", "get_hub"]

# A hub re-joins its group this often, so a Redis restart or flush never silences a process for long.
REJOIN_SECONDS = 10.0
# A hub pings itself through the live layer this often; two lost pings in a row mean batches may be lost.
WATCHDOG_SECONDS = 2.0
YIELD_EVERY = 200
SWEEP_CHUNK = 50


class Connection(Protocol):
    """What the hub needs from a WebSocket connection (live.consumers.LiveConsumer)."""

    def offer(self, tag_id: int, ts: float, frame: str) -> None: ...

    async def flush(self) -> None: ...

    def credential_key(self) -> tuple: ...

    async def close_revoked(self) -> None: ...

    def quota_entry(self) -> tuple[str, str, int] | None: ...


class LiveHub:
    """The one member of `tags.live` in this event loop: routes each batch to the connections that watch it."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.by_tag: dict[int, set[Connection]] = defaultdict(set)
        self.connections: set[Connection] = set()
        self.channel_name: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._started: asyncio.Future | None = None
        self._inbox: list[dict] = []
        self._wake = asyncio.Event()
        self._last_seq: dict[str, int] = {}
        self._resync_wanted = False
        self._ping_sent = 0
        self._ping_seen = 0
        self.batches = 0  # batch messages received
        self.delivered = 0  # connection flushes
        self.merged = 0  # intermediate values dropped because the hub was behind
        self.gaps = 0  # lost batch messages noticed (each followed by a resync)
        self.resyncs = 0

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def ensure_started(self) -> None:
        if self._started is None:
            self._started = self.loop.create_future()
            try:
                layer = live_layer()
                # The default "specific" prefix matters: channels_redis reads all of a process's local channels
                # through one key per prefix behind one lock, so another prefix would starve behind consumers.
                self.channel_name = await layer.new_channel()
                await layer.group_add(LIVE_GROUP, self.channel_name)
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started.exception()  # mark retrieved; callers re-raise below
                self._started = None
                raise
            self._tasks = [self.loop.create_task(self._receive_loop(), name="live-hub-receive"),
                           self.loop.create_task(self._deliver_loop(), name="live-hub-deliver"),
                           self.loop.create_task(self._auth_sweep_loop(), name="live-hub-auth"),
                           self.loop.create_task(self._watchdog_loop(), name="live-hub-watchdog")]
            self._started.set_result(True)
        else:
            await asyncio.shield(self._started)

    async def _receive_loop(self) -> None:
        """Move batch messages from the channel layer into the inbox as fast as they come."""
        layer = live_layer()
        backoff = 0.1
        while True:
            try:
                message = await layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis went away: wait, re-join, then resend current values so no client keeps a stale one.
                logger.exception("Live hub lost the channel layer; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                try:
                    await layer.group_add(LIVE_GROUP, self.channel_name)
                    self.request_resync()
                    backoff = 0.1
                except Exception:
                    logger.warning("Live hub could not re-join yet", exc_info=True)
                continue
            kind = message.get("type")
            if kind == BATCH_EVENT:
                self._check_sequence(message.get("src"), message.get("seq"))
                self._inbox.append(message)
                self._wake.set()
            elif kind == PING_EVENT:
                self._ping_seen = max(self._ping_seen, int(message.get("n", 0)))

    def _check_sequence(self, src, seq) -> None:
        # A gap means the channel layer dropped a batch (channel over capacity, Redis failover): a tag whose
        # change was in it would show a stale value until it changes again, so resend current values.
        if src is None or seq is None:
            return
        last = self._last_seq.get(src)
        if last is not None and seq > last + 1:
            self.gaps += 1
            logger.warning("Live hub missed %d batch(es) from %s; resyncing", seq - last - 1, src)
            self.request_resync()
        if last is None or seq > last:
            self._last_seq[src] = seq
        if len(self._last_seq) > 1000:  # sources come and go with worker processes
            self._last_seq = dict(list(self._last_seq.items())[-100:])

    def request_resync(self) -> None:
        self._resync_wanted = True
        self._wake.set()

    async def _deliver_loop(self) -> None:
        """Deliver what the inbox holds. When the hub has fallen behind, the waiting batches are merged first
        (latest value per tag), so an overload drops intermediate values instead of growing a queue."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if self._resync_wanted:
                    self._resync_wanted = False
                    await self.resync()
                if self._inbox:
                    batch, self._inbox = self._inbox, []
                    self.batches += len(batch)
                    if len(batch) == 1:
                        m = batch[0]
                        await self.deliver(m["ids"], m["ts"], m["frames"])
                    else:
                        await self.deliver(*self._merge(batch))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Live hub failed to deliver")

    def _merge(self, messages: list[dict]) -> tuple[list[int], list[float], list[str]]:
        latest: dict[int, tuple[float, str]] = {}
        total = 0
        for m in messages:
            total += len(m["ids"])
            for tid, t, frame in zip(m["ids"], m["ts"], m["frames"], strict=True):
                latest[tid] = (t, frame)
        self.merged += total - len(latest)
        ids = list(latest)
        return ids, [latest[i][0] for i in ids], [latest[i][1] for i in ids]

    async def _watchdog_loop(self) -> None:
        """Notice when the hub may have missed batches without a sequence gap to show it (the lost batch was the
        last one for a while), and resync once the transport works again.

        Every WATCHDOG_SECONDS the hub publishes a ping to itself through the live layer; if two in a row have
        not come back, its subscription was down (Redis restart, failover, a dropped socket) and anything
        published meanwhile is gone. When pings return, it resends every watched tag's current value. It also
        re-joins tags.live every REJOIN_SECONDS (the list-based layer keeps groups in Redis, where a restart or
        flush loses them).
        """
        layer = live_layer()
        loop = asyncio.get_running_loop()
        last_join = last_renew = loop.time()
        outage = False
        while True:
            await asyncio.sleep(float(getattr(settings, "KILN_WS_WATCHDOG_SECONDS", WATCHDOG_SECONDS)))
            try:
                if self._ping_seen < self._ping_sent - 1:
                    if not outage:
                        logger.warning("Live hub hears nothing from the channel layer; will resync when it does")
                    outage = True
                elif outage and self._ping_seen == self._ping_sent:
                    outage = False
                    logger.warning("Live hub hears the channel layer again; resyncing")
                    self.request_resync()
                if loop.time() - last_join >= float(getattr(settings, "KILN_WS_REJOIN_SECONDS", REJOIN_SECONDS)):
                    last_join = loop.time()
                    missing = await self._membership_missing(layer)
                    await layer.group_add(LIVE_GROUP, self.channel_name)
                    if missing:
                        logger.warning("Live hub had lost its tags.live membership; re-joined and resyncing")
                        self.request_resync()
                if loop.time() - last_renew >= settings.KILN_WS_SUBSCRIPTION_TTL_SECONDS / 3:
                    last_renew = loop.time()
                    await self.renew_subscription_counts()
                self._ping_sent += 1
                await layer.send(self.channel_name, {"type": PING_EVENT, "n": self._ping_sent})
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Live hub watchdog could not reach the channel layer", exc_info=True)

    async def renew_subscription_counts(self) -> None:
        """Keep this process's connections' subscription counts alive in Redis (live.quota): a process that
        dies stops renewing, and its slots free themselves when their deadline passes."""
        from live.quota import subscriptions_renew

        entries = [e for e in (c.quota_entry() for c in list(self.connections)) if e is not None and e[2] > 0]
        try:
            await _off_loop(subscriptions_renew, entries)
        except Exception:  # Redis away: the counts expire unless renewed later, which only frees slots early
            logger.warning("Could not renew WebSocket subscription counts", exc_info=True)

    async def _membership_missing(self, layer) -> bool:
        # channels_redis keeps a group as a sorted set; other layers (in-memory) have no such key to look at.
        try:
            key = layer._group_key(LIVE_GROUP)
            conn = layer.connection(layer.consistent_hash(LIVE_GROUP))
        except AttributeError:
            return False
        return await conn.zscore(key, self.channel_name) is None

    # --- routing ---------------------------------------------------------------------------------------------

    def watch(self, conn: Connection, tag_ids: Iterable[int]) -> None:
        self.connections.add(conn)
        for tid in tag_ids:
            self.by_tag[tid].add(conn)

    def unwatch(self, conn: Connection, tag_ids: Iterable[int]) -> None:
        for tid in tag_ids:
            conns = self.by_tag.get(tid)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self.by_tag[tid]

    def attach(self, conn: Connection) -> None:
        self.connections.add(conn)

    def detach(self, conn: Connection, tag_ids: Iterable[int]) -> None:
        self.unwatch(conn, tag_ids)
        self.connections.discard(conn)

    async def deliver(self, ids: list[int], ts: list[float], frames: list[str]) -> None:
        """Hand each watched change to its connections (latest value per tag wins), then flush each once.

        With daphne an ASGI send only queues bytes on the transport, so flushing never waits on a client; a slow
        client is handled by its own flow control. Every YIELD_EVERY connections the loop lets other tasks run,
        so the receiver keeps draining the channel layer and client messages are answered during a big fan-out.
        """
        by_tag = self.by_tag
        touched: dict[Connection, None] = {}
        for tid, t, frame in zip(ids, ts, frames, strict=True):
            conns = by_tag.get(tid)
            if conns:
                for conn in conns:
                    conn.offer(tid, t, frame)
                    touched[conn] = None
        self.delivered += len(touched)
        for i, conn in enumerate(touched, 1):
            try:
                await conn.flush()
            except Exception:
                logger.exception("Live push to one connection failed")
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def resync(self) -> None:
        """Offer every watched tag's current value again (after the hub may have missed batches)."""
        from tags.live import live_get_many
        from tags.values import get_tag_meta

        self.resyncs += 1
        ids = list(self.by_tag)
        if not ids:
            return

        def read():
            return live_get_many(ids), get_tag_meta(ids)

        values, metas = await _off_loop(read)
        out_ids, out_ts, out_frames = [], [], []
        for tid, lv in values.items():
            meta = metas.get(tid)
            if lv is not None and meta is not None:
                out_ids.append(tid)
                out_ts.append(lv.ts)
                out_frames.append(value_frame(meta.name, lv.value, lv.quality, lv.substatus, lv.ts))
        await self.deliver(out_ids, out_ts, out_frames)

    # --- credentials -----------------------------------------------------------------------------------------

    async def _auth_sweep_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            interval = float(getattr(settings, "KILN_WS_AUTH_CHECK_SECONDS", 5.0))
            started = loop.time()
            try:
                await self.auth_sweep(spread=interval / 2)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("WebSocket credential sweep failed")
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    async def auth_sweep(self, spread: float = 0.0) -> None:
        """Close (4001) every connection whose session was logged out or whose key was revoked.

        One check per distinct credential, in chunks of SWEEP_CHUNK spread over `spread` seconds: a thousand
        sessions checked at once would hold the GIL in bursts and show up as latency spikes in the push.
        """
        from accounts.ws_auth import revoked_credentials

        groups: dict[tuple, list[Connection]] = defaultdict(list)
        for conn in list(self.connections):
            key = conn.credential_key()
            if key is not None:
                groups[key].append(conn)
        keys = list(groups)
        chunks = [keys[i:i + SWEEP_CHUNK] for i in range(0, len(keys), SWEEP_CHUNK)]
        for n, chunk in enumerate(chunks):
            if n:
                await asyncio.sleep(spread / len(chunks))
            for key in await _off_loop(revoked_credentials, chunk):
                for conn in groups[key]:
                    await conn.close_revoked()


async def _off_loop(fn, *args):
    """Run fn in the loop's thread pool, not in the one thread consumers share for database_sync_to_async:
    a sweep over a thousand sessions must not hold up handshakes and subscribes. Any database connection the
    call opened is closed again, since pool threads outlive it."""

    def call():
        from django.db import connections

        try:
            return fn(*args)
        finally:
            connections.close_all()

    return await sync_to_async(call, thread_sensitive=False)()


_hubs: dict[asyncio.AbstractEventLoop, LiveHub] = {}


def get_hub() -> LiveHub:
    """The hub of the running event loop (daphne has one loop; tests get a fresh one per loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for old in [lp for lp in _hubs if lp.is_closed()]:
            del _hubs[old]
        hub = _hubs[loop] = LiveHub(loop)
    return hub
