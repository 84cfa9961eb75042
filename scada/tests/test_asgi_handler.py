"""scada.asgi_handler: one thread hop per request, on reused threads, with Django's semantics kept."""

import asyncio
import threading
import time

import orjson
import pytest
from django.core import signals

from scada.asgi_handler import SyncChainASGIHandler

pytestmark = pytest.mark.urls("scada.tests.urls_asgi")


async def _request(app, path: str, disconnect_after: float | None = None) -> tuple[int | None, list[dict]]:
    """One GET through the ASGI app; returns the status (None if the client left first) and the body messages."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path.partition("?")[0], "raw_path": path.partition("?")[0].encode(),
             "query_string": path.partition("?")[2].encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}
    body_sent = asyncio.Event()
    messages: list[dict] = []

    async def receive():
        if not body_sent.is_set():
            body_sent.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        if disconnect_after is None:
            await asyncio.Event().wait()  # the client never disconnects
        await asyncio.sleep(disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    if not messages:
        return None, []
    start = messages[0]
    assert start["type"] == "http.response.start"
    return start["status"], [m for m in messages[1:] if m["type"] == "http.response.body"]


def _json(bodies: list[dict]) -> dict:
    return orjson.loads(b"".join(m.get("body", b"") for m in bodies))


def test_it_runs_consecutive_requests_on_one_reused_thread_without_starting_new_ones():
    app = SyncChainASGIHandler()

    async def run():
        return [await _request(app, "/api/test/whoami") for _ in range(5)]

    asyncio.run(run())  # warm: the first request creates the executor's thread
    before = threading.active_count()
    results = asyncio.run(run())
    assert all(status == 200 for status, _ in results)
    names = {_json(bodies)["thread"] for _, bodies in results}
    assert len(names) == 1 and names.pop().startswith("kiln-http")
    assert threading.active_count() == before


def test_it_sends_request_signals_and_runs_the_view_on_the_same_thread():
    """Django's per-thread database connections rely on it: request_finished closes the view's connection."""
    app = SyncChainASGIHandler()
    seen: dict[str, int] = {}

    def started(**kwargs):
        seen["started"] = threading.get_ident()

    def finished(**kwargs):
        seen["finished"] = threading.get_ident()

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        status, bodies = asyncio.run(_request(app, "/api/test/whoami"))
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert status == 200
    assert seen["started"] == seen["finished"] == _json(bodies)["ident"]
    assert seen["started"] != threading.get_ident()  # not on the event loop's thread


def test_it_serves_concurrent_slow_requests_in_parallel_threads():
    app = SyncChainASGIHandler()

    async def run():
        t0 = time.perf_counter()
        results = await asyncio.gather(*[_request(app, "/api/test/slow?s=0.4") for _ in range(3)])
        return time.perf_counter() - t0, results

    elapsed, results = asyncio.run(run())
    assert [status for status, _ in results] == [200, 200, 200]
    assert len({_json(bodies)["ident"] for _, bodies in results}) == 3
    assert elapsed < 1.0  # three 0.4 s requests, not 1.2 s one after the other


def test_it_still_streams_a_streaming_response_chunk_by_chunk():
    status, bodies = asyncio.run(_request(SyncChainASGIHandler(), "/api/test/stream"))
    assert status == 200
    chunks = [m["body"] for m in bodies if m.get("body")]
    assert chunks == [b"row 0\n", b"row 1\n", b"row 2\n"]


def test_it_answers_an_exception_in_a_view_with_the_json_500():
    status, bodies = asyncio.run(_request(SyncChainASGIHandler(), "/api/test/explode"))
    assert status == 500
    detail = _json(bodies)["detail"]
    assert detail.startswith("Internal server error") and "boom" not in detail


def test_it_does_not_queue_the_next_request_behind_a_view_whose_client_left():
    """The borrowed thread goes back to the idle list only when free: Django's handle() waits for the abandoned
    view (its request_finished receivers queue behind it on the same executor) before it returns."""
    app = SyncChainASGIHandler()

    async def run():
        left = await _request(app, "/api/test/slow?s=0.6", disconnect_after=0.05)  # returns at once, view sleeps
        t0 = time.perf_counter()
        status, bodies = await _request(app, "/api/test/whoami")
        return left, status, time.perf_counter() - t0

    t0 = time.perf_counter()
    left, status, elapsed = asyncio.run(run())
    assert left == (None, [])
    assert time.perf_counter() - t0 >= 0.6  # the abandoned view's request ended when the view did
    assert status == 200 and elapsed < 0.3  # and the next one did not wait behind it
