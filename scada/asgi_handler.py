"""Django's ASGI handler with the middleware chain run synchronously, in one thread hop per request.

Kiln's views (DRF) and most middleware are synchronous. Django's stock ASGIHandler builds the chain in async
mode, so every async-capable middleware hops to a worker thread for its process_request and again for its
process_response, and the view hops once more: about a dozen thread hand-offs per request, measured at 3-4 ms
of CPU per API request (more than the view itself). Built in sync mode the whole chain, view included, runs in
one `sync_to_async` call, in the request's own thread-sensitive executor, so database connections, signal
handlers and the view still share one thread exactly as in Django's own design.

Each request also used to start two threads (its thread-sensitive executor, and one to join that executor on
the way out). Here a request borrows a long-lived single-thread executor from a small idle pool instead
(asgiref's `ThreadSensitiveContext(executor=...)`, made for this), so there is no thread start per request.

WebSockets never come here (Channels routes them); streaming responses still stream (Django's send_response
iterates them on the event loop as before).

Framework internals this relies on (tests/test_framework_overrides.py checks that they exist and pins the
versions they were verified against; on a Django or asgiref upgrade re-check them, run scada/tests/test_asgi_handler.py,
then move the pin): `BaseHandler.load_middleware(is_async=False)`; `ASGIHandler.handle()` calling
`self.get_response_async(request)` and sending `request_finished` through the thread-sensitive executor;
`ThreadSensitiveContext(executor=...)` running `sync_to_async(thread_sensitive=True)` calls on that executor.
Stock Django cannot replace this file: its ASGIHandler always builds the async chain.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler

__all__ = ["VERIFIED_AGAINST", "SyncChainASGIHandler", "get_asgi_application"]

VERIFIED_AGAINST = {"django": "5.2.19", "asgiref": "3.13.0"}
RECHECK = ("django.core.handlers.asgi.ASGIHandler.handle/__call__ and base.BaseHandler.load_middleware(is_async=) "
           "and get_response; asgiref.sync.ThreadSensitiveContext(executor=) and how sync_to_async picks the "
           "executor; then run scada/tests/test_asgi_handler.py")


class SyncChainASGIHandler(ASGIHandler):
    """ASGIHandler whose middleware chain and views run in a single thread hop per request."""

    # Idle executors kept for reuse; a burst beyond this many concurrent requests gets fresh ones that are shut
    # down afterwards (the same cost as stock Django, only in bursts).
    max_idle_executors = 32

    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # Only the event loop's thread touches the idle list, so it needs no lock.
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(1, thread_name_prefix="kiln-http")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            # The thread is free by now, even when the client left mid-request: Django then cancels the request
            # but sends request_finished, whose receivers (close_old_connections) queue on this same executor
            # behind the abandoned view, and handle() awaits them. (scada/tests/test_asgi_handler.py checks it.)
            if len(self._idle) < self.max_idle_executors:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)

    async def get_response_async(self, request):
        # BaseHandler.get_response is the WSGI path: urlconf, the sync chain, resource closers, 4xx/5xx logging.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncChainASGIHandler:
    """django.core.asgi.get_asgi_application with Kiln's handler."""
    import django

    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
