"""Live alarms on the WebSocket: {"type": "subscribe_alarms"} → snapshot, then pushed state changes.

Through the ASGI app (channels' WebsocketCommunicator) and through a real daphne with a real `websockets` client.
"""

import asyncio
import time

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from websockets.asyncio.client import connect

from accounts.tokens import issue_token_pair
from alarms.services import alarm_acknowledge
from tags.values import Sample, tag_values_record
from tests.servers import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


def _record(tag, value):
    tag_values_record(samples=[Sample(tag_id=tag.pk, value=value, ts=time.time())])


arecord = database_sync_to_async(_record)


async def _open(token):
    from scada.asgi import application

    comm = WebsocketCommunicator(application, f"/ws?token={token}", headers=[ORIGIN])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


def test_it_sends_a_snapshot_then_pushes_changes(hi_alarm, temp, operator):
    token = issue_token_pair(operator)["token"]
    _record(temp, 95.0)  # already active before the client subscribes

    async def body():
        comm = await _open(token)
        await comm.send_json_to({"type": "subscribe_alarms", "id": 7})
        snap = await comm.receive_json_from(timeout=5)
        assert snap["type"] == "alarms_snapshot" and snap["id"] == 7
        assert [(a["key"], a["state"]) for a in snap["alarms"]] == [("reactor_temp_hi", "active_unacked")]
        await arecord(temp, 10.0)
        push = await comm.receive_json_from(timeout=5)
        assert push["type"] == "alarms"
        (alarm,) = push["alarms"]
        assert (alarm["id"], alarm["state"], alarm["active"]) == (hi_alarm.pk, "rtn_unacked", False)
        assert alarm["seq"] > snap["alarms"][0]["seq"]
        await database_sync_to_async(lambda: alarm_acknowledge(alarm=hi_alarm, user=operator))()
        push = await comm.receive_json_from(timeout=5)
        assert push["alarms"][0]["state"] == "normal" and push["alarms"][0]["acked_by"] == "olivia"
        await comm.send_json_to({"type": "unsubscribe_alarms"})
        assert (await comm.receive_json_from(timeout=5))["type"] == "alarms_unsubscribed"
        await arecord(temp, 99.0)
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()

    async_to_sync(body)()


def test_it_refuses_a_second_alarm_subscription_and_counts_the_limit(hi_alarm, operator, settings):
    settings.KILN_WS_MAX_SUBSCRIPTIONS = 1
    token = issue_token_pair(operator)["token"]

    async def body():
        comm = await _open(token)
        await comm.send_json_to({"type": "subscribe_alarms"})
        assert (await comm.receive_json_from(timeout=5))["type"] == "alarms_snapshot"
        await comm.send_json_to({"type": "subscribe_alarms"})
        err = await comm.receive_json_from(timeout=5)
        assert err["type"] == "error" and "Already subscribed" in err["detail"]
        await comm.send_json_to({"type": "subscribe", "tags": ["Reactor_Temp"]})
        err = await comm.receive_json_from(timeout=5)
        assert err["type"] == "error" and "At most 1 subscriptions" in err["detail"]
        await comm.disconnect()

    async_to_sync(body)()


@pytest.fixture
def daphne(_clean_redis, transactional_db, tmp_path):
    """A daphne serving scada.asgi on the test database and this suite's Redis db; yields its ws:// URL."""
    with running_daphne(tmp_path) as url:
        yield url


def test_it_pushes_alarms_to_a_real_client_through_daphne(daphne, hi_alarm, temp, operator):
    token = issue_token_pair(operator)["token"]

    async def body():
        async with connect(f"{daphne}?token={token}", origin="http://localhost") as ws:
            await ws.send(orjson.dumps({"type": "subscribe_alarms"}).decode())
            snap = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert snap == {"type": "alarms_snapshot", "alarms": []}
            sent = time.time()
            await arecord(temp, 90.0)
            push = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert push["type"] == "alarms" and push["alarms"][0]["state"] == "active_unacked"
            assert time.time() - sent < 1.0

    async_to_sync(body)()
