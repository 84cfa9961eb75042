"""The WebSocket API through the ASGI app (channels' WebsocketCommunicator), with real Redis and PostgreSQL."""

import asyncio
import time

import pytest

from accounts.services import api_key_create, api_key_revoke, auth_logout
from accounts.tokens import issue_token_pair, principal_from_access_token
from live import publisher
from live.consumers import CLOSE_AUTH
from live.daphne_flow import TransportFlow
from live.hub import get_hub
from live.publisher import live_layer
from live.tests.ws_helpers import ORIGIN, arecord, make_tags, open_ws, record, run, short_token, subscribe, wait_for

# Channels' database_sync_to_async closes connections around each call: tests need real transactions.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_channel_layer")]


# --- handshake -------------------------------------------------------------------------------------------------

def test_it_accepts_a_jwt_at_the_handshake(token):
    async def body():
        comm, connected, _ = await open_ws(token)
        assert connected
        await comm.send_json_to({"type": "ping", "id": 7})
        assert await comm.receive_json_from() == {"type": "pong", "id": 7}
        await comm.disconnect()

    run(body)


def test_it_accepts_an_api_key_at_the_handshake(admin_user, operator):
    _, key = api_key_create(actor=admin_user, user=operator, name="mes")

    async def body():
        comm, connected, _ = await open_ws(key)
        assert connected
        await comm.disconnect()

    run(body)


def test_it_refuses_a_bad_token_at_the_handshake(token):
    async def body():
        comm, connected, _ = await open_ws(token[:-3] + "abc")
        assert not connected

    run(body)


def test_it_refuses_a_missing_token_at_the_handshake(db):
    async def body():
        comm, connected, _ = await open_ws(None, path="/ws")
        assert not connected

    run(body)


def test_it_refuses_a_logged_out_token_at_the_handshake(operator):
    pair = issue_token_pair(operator)
    auth_logout(principal=principal_from_access_token(pair["token"]))

    async def body():
        comm, connected, _ = await open_ws(pair["token"])
        assert not connected

    run(body)


def test_it_refuses_an_expired_token_at_the_handshake(operator):
    raw = short_token(operator, 1)
    time.sleep(1.1)

    async def body():
        comm, connected, _ = await open_ws(raw)
        assert not connected

    run(body)


def test_it_refuses_a_foreign_origin(token):
    async def body():
        comm, connected, _ = await open_ws(token, headers=[(b"origin", b"https://evil.example")])
        assert not connected

    run(body)


def test_it_accepts_an_allowed_origin_and_a_client_without_origin(token):
    async def body():
        for headers in ([ORIGIN], [(b"origin", b"http://127.0.0.1:8000")], []):
            comm, connected, _ = await open_ws(token, headers=headers)
            assert connected, headers
            await comm.disconnect()

    run(body)


# --- subscribe, snapshot, updates ------------------------------------------------------------------------------

def test_it_sends_a_snapshot_of_current_values(token, tags3):
    temp, speed, valve = tags3
    record((temp, 81.5), (speed, 1450.0))

    async def body():
        comm, _, _ = await open_ws(token)
        snap = await subscribe(comm, ["Reactor_Temp", "Pump_Speed", "Valve_Open"], id="s1")
        assert snap["type"] == "snapshot" and snap["subscription"] == 1 and snap["id"] == "s1"
        assert snap["batch"] is False
        values = {v["tag"]: v for v in snap["values"]}
        assert [v["tag"] for v in snap["values"]] == ["Reactor_Temp", "Pump_Speed", "Valve_Open"]
        assert values["Reactor_Temp"]["value"] == 81.5 and values["Reactor_Temp"]["quality"] == "GOOD"
        assert values["Reactor_Temp"]["ts"].endswith("Z")
        # A tag that never had a value: the seed's nulls, not a made-up zero.
        assert values["Valve_Open"] == {"tag": "Valve_Open", "value": None, "quality": None, "ts": None}
        await comm.disconnect()

    run(body)


def test_it_sends_each_initial_value_in_the_seed_form_from_the_first_frame(token, tags3):
    temp, speed, _ = tags3
    record((temp, 81.5), (speed, 1450.0))

    async def body():
        comm, _, _ = await open_ws(token)
        # The seed's message as written: no "snapshot", no "batch".
        await comm.send_json_to({"type": "subscribe", "tags": ["Reactor_Temp", "Pump_Speed", "Valve_Open"]})
        frames = [await comm.receive_json_from(timeout=5) for _ in range(3)]
        for f in frames:  # what a seed client reads from every frame: const {tag, value, quality, ts}
            assert {"tag", "value", "quality", "ts"} <= set(f) and f["type"] == "update" and f["subscription"] == 1
        by_tag = {f["tag"]: f for f in frames}
        assert [f["tag"] for f in frames] == ["Reactor_Temp", "Pump_Speed", "Valve_Open"]
        assert (by_tag["Reactor_Temp"]["value"], by_tag["Reactor_Temp"]["quality"]) == (81.5, "GOOD")
        assert by_tag["Reactor_Temp"]["ts"].endswith("Z")
        assert (by_tag["Valve_Open"]["value"], by_tag["Valve_Open"]["quality"], by_tag["Valve_Open"]["ts"]) == (
            None, None, None)
        assert await comm.receive_nothing(timeout=0.2)
        await arecord((temp, 90.0))
        msg = await comm.receive_json_from()
        assert (msg["type"], msg["tag"], msg["value"]) == ("update", "Reactor_Temp", 90.0)
        await comm.disconnect()

    run(body)


def test_it_sends_the_initial_values_of_a_batch_subscription_as_one_batch_frame(token, tags3):
    temp, _, _ = tags3
    record((temp, 81.5))

    async def body():
        comm, _, _ = await open_ws(token)
        await comm.send_json_to({"type": "subscribe", "tags": ["Reactor_Temp", "Pump_Speed"], "batch": True, "id": 4})
        frame = await comm.receive_json_from(timeout=5)
        assert (frame["type"], frame["subscription"], frame["id"]) == ("batch", 1, 4)
        assert [(u["tag"], u["value"]) for u in frame["updates"]] == [("Reactor_Temp", 81.5), ("Pump_Speed", None)]
        await comm.disconnect()

    run(body)


def test_it_refuses_a_snapshot_option_that_is_not_a_boolean(token, tags3):
    async def body():
        comm, _, _ = await open_ws(token)
        err = await subscribe(comm, ["Reactor_Temp"], snapshot="yes")
        assert err["type"] == "error" and err["detail"] == '"snapshot" must be true or false.'
        await comm.disconnect()

    run(body)


def test_it_pushes_each_change_in_the_seed_form(token, tags3):
    temp, speed, _ = tags3

    async def body():
        comm, _, _ = await open_ws(token)
        await subscribe(comm, ["Reactor_Temp", "Pump_Speed"])
        await arecord((temp, 90.0), (speed, 1200.0))
        got = [await comm.receive_json_from(), await comm.receive_json_from()]
        by_tag = {m["tag"]: m for m in got}
        assert set(by_tag) == {"Reactor_Temp", "Pump_Speed"}
        msg = by_tag["Reactor_Temp"]
        assert {"tag", "value", "quality", "ts"} <= set(msg) and msg["type"] == "update"
        assert msg["value"] == 90.0 and msg["quality"] == "GOOD"
        assert msg["ts"].endswith("Z") and "T" in msg["ts"]
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    run(body)


def test_it_pushes_bad_quality_with_its_substatus(token, tags3):
    temp = tags3[0]
    record((temp, 80.0))

    async def body():
        comm, _, _ = await open_ws(token)
        await subscribe(comm, ["Reactor_Temp"])
        await arecord((temp, 80.0), quality="BAD", substatus="comm_failure")
        msg = await comm.receive_json_from()
        assert (msg["tag"], msg["value"], msg["quality"], msg["substatus"]) == (
            "Reactor_Temp", 80.0, "BAD", "comm_failure")
        await comm.disconnect()

    run(body)


def test_it_delivers_only_subscribed_tags(token, tags3):
    temp, speed, valve = tags3

    async def body():
        comm, _, _ = await open_ws(token)
        await subscribe(comm, ["Pump_Speed"])
        await arecord((temp, 1.0), (valve, 1.0))
        await arecord((speed, 5.0))
        msg = await comm.receive_json_from()
        assert msg["tag"] == "Pump_Speed"
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    run(body)


def test_it_sends_batched_frames_when_the_client_opts_in(token, tags3):
    temp, speed, valve = tags3

    async def body():
        comm, _, _ = await open_ws(token)
        snap = await subscribe(comm, ["Reactor_Temp", "Pump_Speed"], batch=True)
        assert snap["batch"] is True
        await arecord((temp, 70.0), (speed, 900.0), (valve, 1.0))
        frame = await comm.receive_json_from()
        assert frame["type"] == "batch"
        assert sorted((u["tag"], u["value"]) for u in frame["updates"]) == [("Pump_Speed", 900.0),
                                                                           ("Reactor_Temp", 70.0)]
        assert all(u["quality"] == "GOOD" and u["ts"].endswith("Z") for u in frame["updates"])
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    run(body)


def test_it_sends_one_channel_layer_message_per_batch(token, monkeypatch):
    tags = make_tags([f"Bulk_{i:03d}" for i in range(200)])
    layer = live_layer()
    sends = []
    real = layer.group_send

    async def counting(group, message):  # the channel layer is the edge: count, then really send
        sends.append((group, len(message["ids"])))
        await real(group, message)

    monkeypatch.setattr(layer, "group_send", counting)

    async def body():
        comm, _, _ = await open_ws(token)
        await subscribe(comm, [t.name for t in tags], batch=True)
        await arecord(*[(t, 1.0) for t in tags])
        frame = await comm.receive_json_from()
        assert len(frame["updates"]) == 200
        await comm.disconnect()

    run(body)
    assert sends == [(publisher.LIVE_GROUP, 200)]


# --- slow clients ------------------------------------------------------------------------------------------

def test_it_keeps_only_the_latest_value_per_tag_while_the_socket_is_backed_up(token, tags3):
    temp, speed, _ = tags3

    async def body():
        comm, _, _ = await open_ws(token)
        await subscribe(comm, ["Reactor_Temp", "Pump_Speed"])
        hub = get_hub()
        (conn,) = hub.connections
        flow = TransportFlow(conn)
        flow.pauseProducing()  # what daphne's transport does past its high-water mark
        start = hub.batches
        for i in range(50):
            await arecord((temp, float(i)), (speed, float(100 + i)))
        await wait_for(lambda: hub.batches >= start + 50)
        assert len(conn.outbox.pending) == 2  # bounded by subscribed tags, not by changes
        assert await comm.receive_nothing(timeout=0.1)
        flow.resumeProducing()
        got = sorted([(m["tag"], m["value"]) for m in (await comm.receive_json_from(), await comm.receive_json_from())])
        assert got == [("Pump_Speed", 149.0), ("Reactor_Temp", 49.0)]
        # 100 offered, 2 delivered: the rest dropped by the connection (or merged by the hub when it ran behind)
        assert conn.outbox.conflated + hub.merged == 98
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    run(body)


# --- credentials that end --------------------------------------------------------------------------------------

def test_it_closes_4001_when_the_token_expires(operator, tags3):
    raw = short_token(operator, 1.5)

    async def body():
        comm, connected, _ = await open_ws(raw)
        assert connected
        await subscribe(comm, ["Reactor_Temp"])
        out = await comm.receive_output(timeout=4)
        assert out == {"type": "websocket.close", "code": CLOSE_AUTH}

    run(body)


def test_it_closes_4001_after_logout(operator, tags3, settings):
    settings.KILN_WS_AUTH_CHECK_SECONDS = 0.2
    pair = issue_token_pair(operator)

    async def body():
        comm, connected, _ = await open_ws(pair["token"])
        assert connected
        await subscribe(comm, ["Reactor_Temp"])
        from channels.db import database_sync_to_async

        await database_sync_to_async(auth_logout)(principal=principal_from_access_token(pair["token"]))
        out = await comm.receive_output(timeout=3)
        assert out == {"type": "websocket.close", "code": CLOSE_AUTH}
        assert get_hub().connections == set()

    run(body)


def test_it_closes_4001_when_the_api_key_is_revoked(admin_user, operator, settings):
    settings.KILN_WS_AUTH_CHECK_SECONDS = 0.2
    api_key, key = api_key_create(actor=admin_user, user=operator, name="mes")

    async def body():
        comm, connected, _ = await open_ws(key)
        assert connected
        from channels.db import database_sync_to_async

        await database_sync_to_async(api_key_revoke)(actor=admin_user, api_key=api_key)
        out = await comm.receive_output(timeout=3)
        assert out == {"type": "websocket.close", "code": CLOSE_AUTH}

    run(body)


def test_it_keeps_a_live_session_open_across_sweeps(token, settings):
    settings.KILN_WS_AUTH_CHECK_SECONDS = 0.1

    async def body():
        comm, _, _ = await open_ws(token)
        assert await comm.receive_nothing(timeout=0.5)
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from())["type"] == "pong"
        await comm.disconnect()

    run(body)


# --- lost batches ------------------------------------------------------------------------------------------

def test_it_resends_current_values_when_a_batch_was_lost(token, tags3):
    from live.publisher import _publisher
    from tags.live import LiveValue, live_set_many

    temp, speed, _ = tags3

    async def body():
        comm, _, _ = await open_ws(token)
        await subscribe(comm, ["Reactor_Temp", "Pump_Speed"])
        await arecord((temp, 1.0))
        assert (await comm.receive_json_from())["value"] == 1.0
        # A batch that never arrives: its value reached the live table, its message is lost on the way.
        live_set_many({speed.pk: LiveValue(5.0, "BAD", "comm_failure", time.time())})
        _publisher.next_seq()
        await arecord((temp, 2.0))
        got = {}
        while "Pump_Speed" not in got:
            m = await comm.receive_json_from(timeout=3)
            got[m["tag"]] = m
        assert (got["Pump_Speed"]["value"], got["Pump_Speed"]["quality"]) == (5.0, "BAD")
        assert get_hub().gaps == 1
        await comm.disconnect()

    run(body)


def test_it_resyncs_after_its_channel_layer_connection_dropped(token, tags3, settings):
    import asyncio

    from scada.redis import get_redis

    settings.KILN_WS_WATCHDOG_SECONDS = 0.3
    temp = tags3[0]

    async def body():
        comm, _, _ = await open_ws(token)
        await subscribe(comm, ["Reactor_Temp"])
        shard = live_layer()._get_layer()._shards[0]
        port = shard._pubsub.connection._writer.get_extra_info("sockname")[1]
        # Redis drops the hub's subscription socket (a failover, a restart): what is published now is lost,
        # and no later batch will reveal it by a sequence gap.
        get_redis().execute_command("CLIENT", "KILL", "ADDR", f"127.0.0.1:{port}")
        await asyncio.sleep(0.05)
        await arecord((temp, 3.0))
        msg = await comm.receive_json_from(timeout=10)  # the watchdog notices, and resyncs once reconnected
        assert (msg["tag"], msg["value"]) == ("Reactor_Temp", 3.0)
        assert get_hub().resyncs == 1
        await comm.disconnect()

    run(body)


def test_it_ignores_a_client_that_floods_messages(token, monkeypatch):
    monkeypatch.setattr("live.consumers.MESSAGES_PER_WINDOW", 3)

    async def body():
        comm, _, _ = await open_ws(token)
        for _ in range(3):
            await comm.send_json_to({"type": "ping"})
            assert (await comm.receive_json_from())["type"] == "pong"
        await comm.send_json_to({"type": "ping"})
        err = await comm.receive_json_from()
        assert err["type"] == "error" and "Too many messages" in err["detail"]
        await comm.disconnect()

    run(body)


def test_it_keeps_the_slots_of_a_live_connection_past_their_ttl_by_renewing_them(token, settings):
    settings.KILN_WS_MAX_SUBSCRIPTIONS = 1
    settings.KILN_WS_SUBSCRIPTION_TTL_SECONDS = 1
    make_tags(["Sub_00"])

    async def body():
        a, _, _ = await open_ws(token)
        b, _, _ = await open_ws(token)
        assert (await subscribe(a, ["Sub_00"]))["type"] == "snapshot"
        for _ in range(3):  # 1.5 s: past the TTL, renewed as the hub's watchdog does
            await asyncio.sleep(0.5)
            await get_hub().renew_subscription_counts()
        assert (await subscribe(b, ["Sub_00"]))["type"] == "error"
        await a.disconnect()
        await b.disconnect()

    run(body)
