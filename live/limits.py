"""The per-client subscription limit of a /ws connection (seed: "10 concurrent subscriptions per client").

A client (its login session or API key) has at most settings.KILN_WS_MAX_SUBSCRIPTIONS over all its connections
in every web process, counted in Redis by live.quota. A mixin of live.consumers.LiveConsumer: it reads the
consumer's principal, channel name, subscriptions, extra_subscriptions and _reserved. Other apps' subscriptions
(alarms) count too, through reserve_subscription / release_subscription.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from live.quota import client_key, subscription_release, subscription_reserve, subscriptions_drop

logger = logging.getLogger(__name__)

__all__ = ["SubscriptionLimitMixin"]


class SubscriptionLimitMixin:
    """Takes and gives back slots of the client's subscription limit for one connection."""

    @property
    def max_subscriptions(self) -> int:
        return int(settings.KILN_WS_MAX_SUBSCRIPTIONS)

    def subscriptions_used(self) -> int:
        """This connection's subscriptions (the client's total is in Redis, over all its connections)."""
        return len(self.subscriptions) + self.extra_subscriptions + self._reserved

    def quota_entry(self) -> tuple[str, str, int] | None:
        """(client, connection, subscriptions held) for the hub's renewal of this connection's count."""
        if self.principal is None or self.closing:
            return None
        return client_key(self.principal), self.channel_name, self.subscriptions_used()

    async def _take_slot(self, request: dict) -> bool:
        """Take one slot of the client's limit (all its connections, all processes), or answer why not."""
        try:
            taken, used = await _off_loop_sync(subscription_reserve, client=client_key(self.principal),
                                               conn=self.channel_name, held=self.subscriptions_used(),
                                               limit=self.max_subscriptions)
        except redis.RedisError:
            logger.warning("Subscription count unavailable; subscription not made", exc_info=True)
            await self.send_error("Subscriptions cannot be counted right now; try again.", request)
            return False
        if not taken:
            await self.send_error(
                f"At most {self.max_subscriptions} subscriptions per client (this token has {used} over all its "
                f"connections); unsubscribe one first.", request, limit=self.max_subscriptions, used=used)
            return False
        self._reserved += 1
        return True

    async def _quota_sync(self) -> None:
        """Write this connection's count after an unsubscribe (a failure is healed by the hub's renewal)."""
        if self.principal is None:
            return
        try:
            await _off_loop_sync(subscription_release, client=client_key(self.principal), conn=self.channel_name,
                                 count=self.subscriptions_used())
        except redis.RedisError:
            logger.warning("Subscription count not updated; the next renewal will", exc_info=True)

    async def _quota_drop(self) -> None:
        if self.principal is None or self._quota_dropped:
            return
        self._quota_dropped = True
        try:
            await _off_loop_sync(subscriptions_drop, client=client_key(self.principal), conn=self.channel_name)
        except redis.RedisError:
            logger.warning("Subscription count of a closed socket not removed; it expires on its own")

    async def reserve_subscription(self, request: dict) -> bool:
        """For other apps' subscriptions (alarms): take a slot, or answer the limit error and return False."""
        if not await self._take_slot(request):
            return False
        self._reserved -= 1
        self.extra_subscriptions += 1
        return True

    def release_subscription(self) -> None:
        self.extra_subscriptions = max(0, self.extra_subscriptions - 1)
        asyncio.ensure_future(self._quota_sync())


async def _off_loop_sync(fn, **kwargs):
    """A Redis call in the loop's thread pool (not the single thread database_sync_to_async shares)."""
    return await sync_to_async(partial(fn, **kwargs), thread_sensitive=False)()
