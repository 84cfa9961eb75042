"""Kiln's overrides of framework internals: each pinned to the versions it was verified against, and the
internals it relies on still there. A failure here after an upgrade says what to re-check before moving a pin.

- scada/asgi_handler.py (Django, asgiref): the sync middleware chain and the reused executors.
- live/daphne_flow.py (daphne, Twisted): flow control through daphne's transport (live/tests/test_daphne_flow.py).
- scada/reason_phrases.py (daphne, Twisted): the 429 reason phrase.
"""

import asyncio
import inspect
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from importlib.metadata import version

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler

OVERRIDES = ["scada.asgi_handler", "live.daphne_flow", "scada.reason_phrases"]


@pytest.mark.parametrize("module", OVERRIDES)
def test_it_runs_each_override_on_the_versions_it_was_verified_against(module):
    mod = import_module(module)
    installed = {dist: version(dist) for dist in mod.VERIFIED_AGAINST}
    assert installed == mod.VERIFIED_AGAINST, (
        f"{module} reaches into framework internals and was verified against {mod.VERIFIED_AGAINST}, but "
        f"{installed} is installed. Re-check: {mod.RECHECK}. Then update VERIFIED_AGAINST in {module}.")


def test_it_still_finds_load_middleware_taking_is_async():
    assert "is_async" in inspect.signature(BaseHandler.load_middleware).parameters
    from scada.asgi_handler import SyncChainASGIHandler

    handler = SyncChainASGIHandler()
    # Built in sync mode, the chain is one plain callable (stock ASGIHandler builds a coroutine function).
    assert not asyncio.iscoroutinefunction(handler._middleware_chain)


def test_it_still_finds_asgi_handler_asking_get_response_async_for_the_response():
    """SyncChainASGIHandler overrides get_response_async; stock handle() must still go through it."""
    assert "self.get_response_async(" in inspect.getsource(ASGIHandler), (
        "Django's ASGIHandler no longer calls get_response_async: re-check scada/asgi_handler.py")


def test_it_still_runs_thread_sensitive_calls_on_the_executor_given_to_thread_sensitive_context():
    assert "executor" in inspect.signature(ThreadSensitiveContext).parameters
    executor = ThreadPoolExecutor(1, thread_name_prefix="pinned")

    async def body():
        async with ThreadSensitiveContext(executor=executor):
            return await sync_to_async(lambda: threading.current_thread().name, thread_sensitive=True)()

    try:
        assert asyncio.run(body()).startswith("pinned")
    finally:
        executor.shutdown()


def test_it_gives_twisted_the_429_reason_phrase_daphne_leaves_it_to_look_up():
    from daphne.http_protocol import WebRequest
    from twisted.internet.testing import StringTransport
    from twisted.web import http

    from scada.reason_phrases import add_reason_phrases

    assert add_reason_phrases()
    assert isinstance(http.RESPONSES, dict) and http.RESPONSES[429] == b"Too Many Requests"
    channel = http.HTTPChannel()
    channel.makeConnection(StringTransport())
    request = http.Request(channel)
    request.setResponseCode(429)
    assert request.code_message == b"Too Many Requests"
    # daphne sets the status without a phrase, so Twisted's table is what the client reads.
    assert 'self.setResponseCode(message["status"])' in inspect.getsource(WebRequest.handle_reply)
