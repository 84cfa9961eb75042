"""scada.asgi_handler: one thread hop per request, on reused threads, with Django's semantics kept."""

import asyncio
import threading
import time

import orjson
import pytest
from django.core import signals

from scada.asgi_handler import SyncChainASGIHandler

pytestmark = pytest.mark.urls("scada.tests.urls_asgi")


async def _request(app, path: str, disconnect_after: float | None = None,
                   disconnect_when_answered: bool = False) -> tuple[int | None, list[dict]]:
    """One GET through the ASGI app; returns the status (None if the client left first) and the body messages.

    disconnect_when_answered: the disconnect comes once the whole answer was sent, as daphne reports it."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path.partition("?")[0], "raw_path": path.partition("?")[0].encode(),
             "query_string": path.partition("?")[2].encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}
    body_sent = asyncio.Event()
    answered = asyncio.Event()
    messages: list[dict] = []

    async def receive():
        if not body_sent.is_set():
            body_sent.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        if disconnect_when_answered:
            await answered.wait()
            return {"type": "http.disconnect"}
        if disconnect_after is None:
            await asyncio.Event().wait()  # the client never disconnects
        await asyncio.sleep(disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message):
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

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


def test_it_leaves_no_request_response_view_or_serializer_for_the_cyclic_gc():
    # Garbage in cycles waits for a full collection, which asgi.py makes rare: under REST load the web process's
    # RSS grew by kilobytes per request. Each request must be freed by reference counting alone.
    import gc

    from django.core.exceptions import RequestAborted
    from rest_framework.response import Response
    from rest_framework.serializers import Serializer
    from rest_framework.views import APIView

    app = SyncChainASGIHandler()

    async def run():  # the client disconnects after the answer, as daphne reports every finished request
        return [await _request(app, "/api/test/drf", disconnect_when_answered=True) for _ in range(20)]

    asyncio.run(run())
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        results = asyncio.run(run())
        gc.collect()
        kinds = (RequestAborted, Response, APIView, Serializer)
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, kinds)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert [status for status, _ in results] == [200] * 20
    assert left == []
