"""The WebSocket API through a real daphne process and real `websockets` clients."""

import asyncio
import signal
import socket

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from accounts.tokens import issue_token_pair
from live.tests.ws_helpers import arecord, make_tags, run
from tests.servers import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def daphne(_clean_redis, transactional_db, tmp_path):
    """A daphne serving scada.asgi on the test database and this suite's Redis db; yields its ws:// URL."""
    with running_daphne(tmp_path) as url:
        yield url


def test_it_serves_initial_values_and_updates_in_the_seed_form_through_daphne(daphne, operator):
    (temp,) = make_tags(["Reactor_Temp"])
    token = issue_token_pair(operator)["token"]

    async def body():
        async with connect(f"{daphne}?token={token}", origin="http://localhost") as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "tags": ["Reactor_Temp"]}).decode())
            first = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (first["tag"], first["value"], first["quality"], first["ts"]) == ("Reactor_Temp", None, None, None)
            await arecord((temp, 42.5))
            msg = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (msg["tag"], msg["value"], msg["quality"]) == ("Reactor_Temp", 42.5, "GOOD")
            assert msg["ts"].endswith("Z")

    run(body)


def test_it_refuses_bad_tokens_and_foreign_origins_at_daphnes_handshake(daphne, operator):
    token = issue_token_pair(operator)["token"]

    async def body():
        for url, origin in ((f"{daphne}?token=nope", "http://localhost"), (daphne, "http://localhost"),
                            (f"{daphne}?token={token}", "https://evil.example")):
            with pytest.raises(InvalidStatus) as exc:
                async with connect(url, origin=origin):
                    pass
            assert exc.value.response.status_code == 403, url

    run(body)


def test_it_drops_intermediate_values_for_a_client_that_stops_reading(daphne, operator):
    tags = make_tags([f"Text_{i:02d}" for i in range(50)], datatype="STRING")
    token = issue_token_pair(operator)["token"]
    rounds = 200
    pad = "x" * 2000  # ~2 kB frames: 50 tags × 200 rounds ≈ 20 MB offered, far beyond the socket buffers

    async def body():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        port = int(daphne.rsplit(":", 1)[1].split("/")[0])
        sock.connect(("127.0.0.1", port))
        # max_queue=1: the client library stops reading the socket as soon as one message waits unread.
        async with connect(f"{daphne}?token={token}", origin="http://localhost", sock=sock, max_queue=1,
                           max_size=None) as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "tags": [t.name for t in tags],
                                        "snapshot": True}).decode())
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "snapshot"
            for r in range(rounds):
                await arecord(*[(t, f"{r:04d}{pad}") for t in tags])
            await asyncio.sleep(1.0)  # let daphne route the last batches
            last: dict[str, str] = {}
            received = 0
            while True:
                try:
                    msg = orjson.loads(await asyncio.wait_for(ws.recv(), 1.0))
                except TimeoutError:
                    break
                received += 1
                last[msg["tag"]] = msg["value"]
            return received, last

    received, last = run(body)
    offered = rounds * len(tags)
    assert received < offered / 2, (received, offered)  # most intermediates were dropped, not queued
    assert {n: v[:4] for n, v in last.items()} == {t.name: f"{rounds - 1:04d}" for t in tags}  # latest kept


def test_it_keeps_an_idle_socket_working_past_redis_read_timeouts(daphne, operator):
    """redis-py 8 times reads out after 5 s by default; the channel layer's blocking pops last 5 s too.

    After 12 idle seconds the hub must still receive batches and the socket must still be open."""
    (temp,) = make_tags(["Idle_Tag"])
    token = issue_token_pair(operator)["token"]

    async def body():
        async with connect(f"{daphne}?token={token}", origin="http://localhost") as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "tags": ["Idle_Tag"]}).decode())
            await asyncio.wait_for(ws.recv(), 5)
            await asyncio.sleep(12)
            await arecord((temp, 7.0))
            msg = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (msg["tag"], msg["value"]) == ("Idle_Tag", 7.0)

    run(body)


def test_it_answers_429_with_its_standard_reason_phrase_through_daphne(daphne, settings):
    """Twisted has no phrase for 429; a client logging the status line should read "Too Many Requests"."""
    import http.client
    from urllib.parse import urlparse

    port = urlparse(daphne).port
    statuses = []
    for _ in range(settings.KILN_RATE_LIMITS["login"] + 1):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/api/auth/login", body=b'{"username": "nobody", "password": "wrong"}',
                     headers={"Content-Type": "application/json", "Host": "localhost"})
        resp = conn.getresponse()
        resp.read()
        statuses.append((resp.status, resp.reason))
        conn.close()
    assert statuses[-1] == (429, "Too Many Requests")
    assert all(status == 401 for status, _ in statuses[:-1])


def test_it_counts_a_tokens_subscriptions_over_two_daphne_processes_and_frees_a_killed_ones(
        _clean_redis, transactional_db, tmp_path, operator):
    make_tags(["Sub_00"])
    token = issue_token_pair(operator)["token"]
    # Renewed by each hub's watchdog (every second here), so B's live slots never lapse while A's do.
    env = {"KILN_WS_MAX_SUBSCRIPTIONS": "4", "KILN_WS_SUBSCRIPTION_TTL_SECONDS": "3", "KILN_WS_WATCHDOG_SECONDS": "1"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    procs = []
    sub = orjson.dumps({"type": "subscribe", "tags": ["Sub_00"], "snapshot": True}).decode()

    async def subscribe(ws):
        await ws.send(sub)
        return orjson.loads(await asyncio.wait_for(ws.recv(), 5))["type"]

    with running_daphne(tmp_path / "a", env=env, procs=procs) as url_a, \
            running_daphne(tmp_path / "b", env=env) as url_b:
        async def body():
            async with connect(f"{url_a}?token={token}", origin="http://localhost") as a, \
                    connect(f"{url_b}?token={token}", origin="http://localhost") as b:
                assert [await subscribe(a), await subscribe(a), await subscribe(b), await subscribe(b)] == [
                    "snapshot"] * 4
                assert await subscribe(b) == "error"  # 4 in use over two processes
                procs[0].send_signal(signal.SIGKILL)  # process A dies: no disconnect, no cleanup
                procs[0].wait(5)
                await asyncio.sleep(3.5)  # A's slots outlive it by at most the TTL
                assert [await subscribe(b), await subscribe(b)] == ["snapshot"] * 2
                assert await subscribe(b) == "error"

        run(body)
