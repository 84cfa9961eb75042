"""The baseline for bench_push.py: the textbook Channels design, one group per tag and one group_send per change.

Served by its own daphne (`daphne bench.naive_push:application`) with the same auth stack as Kiln's /ws. A
client's subscribe joins one channel-layer group per tag; the producer side (`naive_push_changes`, installed in
place of Kiln's push consumer by the bench) sends every recorded change to its tag's group on its own.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

get_asgi_application()

import orjson  # noqa: E402
from asgiref.sync import async_to_sync  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from accounts.ws_auth import ws_auth_stack  # noqa: E402
from live.publisher import change_frame  # noqa: E402


def _ids(names):
    from tags.models import Tag

    return list(Tag.objects.filter(name__in=names).values_list("id", flat=True))


class NaiveTagConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        if self.scope.get("user") is None:
            await self.close()
            return
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        msg = orjson.loads(text_data)
        if msg.get("type") == "subscribe":
            for tid in await database_sync_to_async(_ids)(msg["tags"]):
                await self.channel_layer.group_add(f"naive.tag.{tid}", self.channel_name)
            await self.send(text_data=orjson.dumps({"type": "snapshot", "values": []}).decode())

    async def tag_update(self, event):
        await self.send(text_data=event["frame"])


class NaivePubSubTagConsumer(NaiveTagConsumer):
    """The same design on Kiln's pub/sub layer alias ("live"): per-tag groups are Redis SUBSCRIBEs."""

    channel_layer_alias = "live"


application = ProtocolTypeRouter({
    "websocket": ws_auth_stack(URLRouter([
        re_path(r"^/?ws/?$", NaiveTagConsumer.as_asgi()),
        re_path(r"^/?ws-pubsub/?$", NaivePubSubTagConsumer.as_asgi()),
    ])),
})


def naive_push_changes(changes):
    """One group_send per tag change, as a service would write it: get_channel_layer() + async_to_sync."""
    layer = get_channel_layer()
    for c in changes:
        async_to_sync(layer.group_send)(f"naive.tag.{c.tag_id}", {"type": "tag.update", "frame": change_frame(c)})


def naive_push_changes_one_loop(changes, alias="default"):
    """The same one group_send per change, but awaited on one long-lived event loop (no async_to_sync cost):
    the most generous form of the per-change design."""
    from live.publisher import _publisher

    layer = get_channel_layer(alias)

    async def send_all():
        for c in changes:
            await layer.group_send(f"naive.tag.{c.tag_id}", {"type": "tag.update", "frame": change_frame(c)})

    import asyncio

    asyncio.run_coroutine_threadsafe(send_all(), _publisher._running_loop()).result(30)


def naive_push_changes_pubsub(changes):
    """One group_send per change over the pub/sub layer (one PUBLISH each), on one long-lived loop."""
    naive_push_changes_one_loop(changes, alias="live")
