"""Helpers for the WebSocket tests: tags, tokens, a connected communicator, recording values."""

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from tags.models import Machine, Site, Tag
from tags.values import Sample, tag_values_record

ORIGIN = (b"origin", b"http://localhost")
REPO = Path(__file__).resolve().parents[2]


def run(coro_fn):
    """Run an async test body on a fresh event loop (sync_to_async calls come back to this thread)."""
    return async_to_sync(coro_fn)()


def make_tags(names, datatype="REAL"):
    site, _ = Site.objects.get_or_create(site_id="ws-site", defaults={"name": "WS site"})
    machine, _ = Machine.objects.get_or_create(machine_id="ws-line", defaults={"name": "WS line", "site": site})
    return [Tag.objects.create(machine=machine, name=n, datatype=datatype) for n in names]


def short_token(user, seconds: float) -> str:
    """An access token like a login issues, but valid for only `seconds`."""
    token = AccessToken.for_user(user)
    token["sid"] = uuid.uuid4().hex
    token["username"] = user.username
    token["role"] = int(user.role)
    token["iat_ms"] = int(time.time() * 1000)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


def record(*pairs, quality="GOOD", substatus=None):
    """Record (tag, value) pairs as one batch, through the one values service."""
    return tag_values_record(samples=[Sample(tag_id=t.pk, value=v, quality=quality, substatus=substatus)
                                      for t, v in pairs])


arecord = database_sync_to_async(record)


async def open_ws(token, *, headers=(ORIGIN,), path=None):
    from scada.asgi import application

    comm = WebsocketCommunicator(application, path or f"/ws?token={token}", headers=list(headers))
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def subscribe(comm, names, **extra):
    """Subscribe asking for the one-frame snapshot (as the HMI does) and return that frame (or the error)."""
    await comm.send_json_to({"type": "subscribe", "tags": list(names), "snapshot": True, **extra})
    return await comm.receive_json_from(timeout=5)


async def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
