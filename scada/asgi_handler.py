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

Each request's objects are freed by reference counting as soon as it is answered (no cycle left for the GC,
whose full collections scada/asgi.py makes rare): see `_get_response_uncycled` and `listen_for_disconnect`.

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
        return await sync_to_async(self._get_response_uncycled, thread_sensitive=True)(request)

    def _get_response_uncycled(self, request):
        response = self.get_response(request)
        if response.streaming:
            return response  # its iterator runs later and may still read the request or the view
        # DRF ties a request's objects into reference cycles (view <-> Request through parser_context, Response ->
        # renderer_context -> view -> response), so only the cyclic GC could free them, and with asgi.py's rare
        # full collections those promoted to the oldest generation while in flight piled up (the web process's
        # RSS grew ~3-5 KB per API request). The response is rendered by now: nothing reads the view again.
        context = response.__dict__.pop("renderer_context", None)
        view = context.get("view") if context else None
        if view is not None:
            drf_request = view.__dict__.get("request")  # its parser_context holds it and the view
            view.__dict__.clear()
            if drf_request is not None:
                drf_request.__dict__.clear()
        # A serializer and its fields point at each other (field.parent); the response's data keeps the serializer.
        _unlink_serializer(getattr(getattr(response, "data", None), "serializer", None))
        # Django's middleware points back at the request: request.user's lazy closure, request.auser (a partial),
        # the message storage's .request. Only close() (the response's closers) reads the request from here on.
        kept = {name: request.__dict__[name] for name in ("_files", "_stream") if name in request.__dict__}
        request.__dict__.clear()
        request.__dict__.update(kept)
        return response

    async def listen_for_disconnect(self, receive):
        # Django's raises RequestAborted, which handle() catches after the response is sent (daphne always
        # reports the disconnect): the exception's traceback holds handle()'s frame, whose `tasks` hold the
        # exception, a cycle that kept every request, response and view alive until a full collection.
        # Returning ends the task just the same for handle() (it only ignored the exception).
        message = await receive()
        if message["type"] != "http.disconnect":
            await super().listen_for_disconnect(lambda: _returns(message))


def _unlink_serializer(serializer) -> None:
    if serializer is None:
        return
    fields = serializer.__dict__.get("fields")  # a cached_property: present only if it was built
    child = serializer.__dict__.get("child")  # a ListSerializer's
    serializer.__dict__.clear()
    for field in fields.values() if fields else ():
        _unlink_serializer(field)
    _unlink_serializer(child)


async def _returns(message):
    return message


def get_asgi_application() -> SyncChainASGIHandler:
    """django.core.asgi.get_asgi_application with Kiln's handler."""
    import django

    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
