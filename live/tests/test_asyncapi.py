"""The /ws protocol documented beside /api/docs/: an AsyncAPI document whose client examples a real consumer
answers with the frames the document lists, and a page showing every message with its example."""

import pytest
from django.test import Client

from live.asyncapi import asyncapi_document
from live.tests.ws_helpers import open_ws, run

pytestmark = pytest.mark.usefixtures("fresh_channel_layer")


def test_the_asyncapi_document_is_served_without_a_token(db):
    res = Client().get("/api/ws/asyncapi.json")
    assert res.status_code == 200
    doc = res.json()
    assert doc["asyncapi"].startswith("2.") and "/ws" in doc["channels"]
    names = [m["name"] for m in doc["channels"]["/ws"]["publish"]["message"]["oneOf"]]
    assert {"subscribe", "unsubscribe", "ping", "subscribe_alarms"} <= set(names)


def test_the_docs_page_shows_every_message_with_its_example_and_links_both_ways(db):
    body = Client().get("/api/docs/ws/").content.decode()
    for m in asyncapi_document()["channels"]["/ws"]["subscribe"]["message"]["oneOf"]:
        assert f"<h3>{m['name']}</h3>" in body
    assert "/api/ws/asyncapi.json" in body and 'href="/api/docs/"' in body
    schema = Client().get("/api/schema/?format=json").json()
    assert "/api/docs/ws/" in schema["info"]["description"]


def test_each_client_example_is_answered_as_documented(token, tags3):
    channel = asyncapi_document()["channels"]["/ws"]
    examples = {m["name"]: m["examples"][0]["payload"] for m in channel["publish"]["message"]["oneOf"]}
    server_types = {m["examples"][0]["payload"]["type"] for m in channel["subscribe"]["message"]["oneOf"]}
    expected = {"subscribe": "error", "ping": "pong", "subscribe_alarms": "alarms_snapshot",
                "unsubscribe": "unsubscribed", "unsubscribe_alarms": "alarms_unsubscribed"}

    async def body():
        comm, _, _ = await open_ws(token)
        # The example names Tank_Level, which this plant lacks: the documented partial subscribe.
        await comm.send_json_to(examples["subscribe"])
        first = await comm.receive_json_from(timeout=5)
        assert first["type"] == "error" and first["partial"] is True and first["tags"] == ["Tank_Level"]
        assert (await comm.receive_json_from(timeout=5))["type"] == "snapshot"
        for name in ("ping", "subscribe_alarms", "unsubscribe", "unsubscribe_alarms"):
            await comm.send_json_to(examples[name])
            answer = await comm.receive_json_from(timeout=5)
            assert answer["type"] == expected[name], (name, answer)
            assert answer["type"] in server_types or answer["type"] == "alarms_unsubscribed"
        await comm.disconnect()

    run(body)
