"""The WebSocket API's limits and errors, and other apps' message handlers, through the ASGI app (channels'
WebsocketCommunicator), with real Redis and PostgreSQL. The rest of the protocol is in test_ws.py."""

import time

import pytest

from accounts.tokens import issue_token_pair, principal_from_access_token
from live.tests.ws_helpers import arecord, make_tags, open_ws, run, subscribe

# Channels' database_sync_to_async closes connections around each call: tests need real transactions.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_channel_layer")]


# --- limits and errors -----------------------------------------------------------------------------------------

def test_it_refuses_the_eleventh_subscription_and_changes_nothing(token, settings):
    settings.KILN_WS_MAX_SUBSCRIPTIONS = 10
    tags = make_tags([f"Sub_{i:02d}" for i in range(11)])

    async def body():
        comm, _, _ = await open_ws(token)
        for i in range(10):
            assert (await subscribe(comm, [tags[i].name]))["type"] == "snapshot"
        err = await subscribe(comm, [tags[10].name], id=11)
        assert err["type"] == "error" and err["id"] == 11 and err["request"] == "subscribe"
        assert "At most 10 subscriptions" in err["detail"]
        await arecord((tags[10], 1.0))
        await arecord((tags[0], 2.0))
        msg = await comm.receive_json_from()
        assert msg["tag"] == "Sub_00" and msg["value"] == 2.0
        assert await comm.receive_nothing(timeout=0.2)
        # Freeing one slot makes room again.
        await comm.send_json_to({"type": "unsubscribe", "subscription": 1})
        assert (await comm.receive_json_from())["type"] == "unsubscribed"
        assert (await subscribe(comm, [tags[10].name]))["type"] == "snapshot"
        await comm.disconnect()

    run(body)


def test_it_counts_subscriptions_per_token_across_connections(token, settings):
    settings.KILN_WS_MAX_SUBSCRIPTIONS = 10
    tags = make_tags([f"Sub_{i:02d}" for i in range(11)])

    async def body():
        comms = [(await open_ws(token))[0] for _ in range(3)]
        for i in range(10):  # 4 + 4 + 2 over three sockets of one token
            assert (await subscribe(comms[min(i // 4, 2)], [tags[i].name]))["type"] == "snapshot"
        err = await subscribe(comms[2], [tags[10].name], id=11)
        assert err["type"] == "error" and err["id"] == 11 and (err["limit"], err["used"]) == (10, 10)
        assert err["detail"].startswith("At most 10 subscriptions per client")
        # A socket that closes frees its slots at once.
        await comms[0].disconnect()
        assert (await subscribe(comms[2], [tags[10].name]))["type"] == "snapshot"
        for c in comms[1:]:
            await c.disconnect()

    run(body)


def test_it_gives_another_token_its_own_subscription_budget(token, operator, settings):
    settings.KILN_WS_MAX_SUBSCRIPTIONS = 1
    make_tags(["Sub_00"])
    other = issue_token_pair(operator)["token"]  # another login session of the same user

    async def body():
        a, _, _ = await open_ws(token)
        b, _, _ = await open_ws(other)
        assert (await subscribe(a, ["Sub_00"]))["type"] == "snapshot"
        assert (await subscribe(b, ["Sub_00"]))["type"] == "snapshot"
        assert (await subscribe(a, ["Sub_00"]))["type"] == "error"
        await a.disconnect()
        await b.disconnect()

    run(body)


def test_it_gives_a_slot_back_when_a_subscription_is_refused(token, settings):
    settings.KILN_WS_MAX_SUBSCRIPTIONS = 1
    make_tags(["Sub_00"])

    async def body():
        comm, _, _ = await open_ws(token)
        assert (await subscribe(comm, ["Nope"]))["type"] == "error"  # unknown tag: took no slot for good
        assert (await subscribe(comm, ["Sub_00"]))["type"] == "snapshot"
        await comm.send_json_to({"type": "unsubscribe"})
        assert (await comm.receive_json_from())["type"] == "unsubscribed"
        comm2, _, _ = await open_ws(token)
        assert (await subscribe(comm2, ["Sub_00"]))["type"] == "snapshot"  # the unsubscribe freed it
        await comm.disconnect()
        await comm2.disconnect()

    run(body)


def test_it_frees_the_slots_of_a_connection_whose_process_stopped_renewing(token, settings):
    from live.quota import client_key, subscription_reserve

    settings.KILN_WS_MAX_SUBSCRIPTIONS = 2
    settings.KILN_WS_SUBSCRIPTION_TTL_SECONDS = 1
    principal = principal_from_access_token(token)
    # A connection of a process that died: its slots were taken, nobody will drop or renew them.
    assert subscription_reserve(client=client_key(principal), conn="dead-process-conn", held=1, limit=2)[0]
    make_tags(["Sub_00"])

    async def body():
        comm, _, _ = await open_ws(token)
        assert (await subscribe(comm, ["Sub_00"]))["type"] == "error"  # 2 held by the dead connection
        time.sleep(1.1)
        assert (await subscribe(comm, ["Sub_00"]))["type"] == "snapshot"
        await comm.disconnect()

    run(body)


def test_it_names_unknown_tags_and_subscribes_the_rest(token, tags3):
    temp = tags3[0]

    async def body():
        comm, _, _ = await open_ws(token)
        err = await subscribe(comm, ["Reactor_Temp", "No_Such_Tag", "Ghost"])
        assert err["type"] == "error" and err["tags"] == ["No_Such_Tag", "Ghost"] and err["partial"] is True
        assert "No_Such_Tag" in err["detail"] and "Ghost" in err["detail"] and "other 1" in err["detail"]
        snap = await comm.receive_json_from(timeout=5)
        assert snap["type"] == "snapshot" and [v["tag"] for v in snap["values"]] == ["Reactor_Temp"]
        await arecord((temp, 3.0))
        update = await comm.receive_json_from(timeout=5)
        assert update["type"] == "update" and update["tag"] == "Reactor_Temp" and update["value"] == 3.0
        await comm.disconnect()

    run(body)


def test_a_subscribe_naming_only_unknown_tags_subscribes_nothing(token, tags3):
    temp = tags3[0]

    async def body():
        comm, _, _ = await open_ws(token)
        err = await subscribe(comm, ["No_Such_Tag", "Ghost"])
        assert err["type"] == "error" and err["tags"] == ["No_Such_Tag", "Ghost"] and "partial" not in err
        await arecord((temp, 3.0))
        assert await comm.receive_nothing(timeout=0.3)
        await comm.disconnect()

    run(body)


def test_it_refuses_tags_the_user_may_not_read(token, tags3, monkeypatch):
    # Every role reads every tag today; this exercises the policy hook the consumer must obey.
    monkeypatch.setattr("live.consumers.tags_refused",
                        lambda principal, tags: [n for _, n in tags if n == "Valve_Open"])

    async def body():
        comm, _, _ = await open_ws(token)
        err = await subscribe(comm, ["Reactor_Temp", "Valve_Open"])
        assert err["type"] == "error" and err["tags"] == ["Valve_Open"]
        assert "Not permitted" in err["detail"]
        await comm.disconnect()

    run(body)


def test_it_answers_malformed_messages_with_an_error(token):
    async def body():
        comm, _, _ = await open_ws(token)
        await comm.send_to(text_data="{not json")
        assert (await comm.receive_json_from())["detail"] == "Invalid JSON."
        await comm.send_json_to({"type": "dance"})
        assert "Unknown message type 'dance'" in (await comm.receive_json_from())["detail"]
        await comm.send_json_to({"type": "subscribe", "tags": "Reactor_Temp"})
        assert '"tags" must be' in (await comm.receive_json_from())["detail"]
        await comm.send_json_to({"type": "subscribe", "tags": ["A"], "batch": "yes"})
        assert '"batch" must be' in (await comm.receive_json_from())["detail"]
        await comm.disconnect()

    run(body)


# --- other apps' messages (settings.KILN_LIVE_MESSAGE_HANDLERS) ---------------------------------------------------

async def echo_handler(consumer, content):
    """A handler another app would name in KILN_LIVE_MESSAGE_HANDLERS."""
    await consumer.reply(content, {"type": "echoed", "by": consumer.principal.username})


def test_it_routes_a_message_type_named_in_the_handler_setting(token, settings):
    settings.KILN_LIVE_MESSAGE_HANDLERS = {**settings.KILN_LIVE_MESSAGE_HANDLERS,
                                           "echo": "live.tests.test_ws_limits.echo_handler"}

    async def body():
        comm, _, _ = await open_ws(token)
        await comm.send_json_to({"type": "echo", "id": 3})
        assert await comm.receive_json_from() == {"type": "echoed", "by": "olivia", "id": 3}
        await comm.send_json_to({"type": "dance"})
        assert "echo, ping, subscribe, subscribe_alarms" in (await comm.receive_json_from())["detail"]
        await comm.disconnect()

    run(body)


def test_it_refuses_a_handler_setting_that_takes_a_message_type_of_its_own(settings):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="ping"):
        settings.KILN_LIVE_MESSAGE_HANDLERS = {"ping": "live.tests.test_ws_limits.echo_handler"}


def test_it_unsubscribes_by_tag_and_stops_delivering_it(token, tags3):
    temp, speed, _ = tags3

    async def body():
        comm, _, _ = await open_ws(token)
        await subscribe(comm, ["Reactor_Temp", "Pump_Speed"])
        await comm.send_json_to({"type": "unsubscribe", "tags": ["Reactor_Temp"]})
        assert await comm.receive_json_from() == {"type": "unsubscribed", "subscriptions": [],
                                                  "tags": ["Reactor_Temp"]}
        await arecord((temp, 4.0), (speed, 4.0))
        assert (await comm.receive_json_from())["tag"] == "Pump_Speed"
        assert await comm.receive_nothing(timeout=0.2)
        await comm.send_json_to({"type": "unsubscribe"})
        assert await comm.receive_json_from() == {"type": "unsubscribed", "subscriptions": [1],
                                                  "tags": ["Pump_Speed"]}
        await comm.send_json_to({"type": "unsubscribe", "subscription": 1})
        assert (await comm.receive_json_from())["type"] == "error"
        await comm.disconnect()

    run(body)
