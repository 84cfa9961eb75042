"""Flow control for a WebSocket under daphne: reaches past the ASGI interface into daphne's Twisted transport.

ASGI gives an application no back-pressure: `send` under daphne only queues bytes on the transport, so a client
that reads slower than we push would grow daphne's buffer without bound. The transport knows when its buffer
passes the high-water mark (Twisted's push-producer protocol), so the consumer registers a producer on it and
stops writing while paused (its outbox then keeps only the latest frame per tag).

Framework internals this relies on (checked by live/tests/test_daphne_flow.py and the version pin in
tests/test_framework_overrides.py; re-check them whenever daphne or Twisted is upgraded, then move the pin):
- daphne's `Server.create_application` passes `send=functools.partial(server.handle_reply, protocol)`, so the
  protocol (and its `.transport`) is `send.args[0]`;
- the protocol's `transport` is a Twisted transport with `registerProducer(producer, streaming)`,
  `unregisterProducer()` and the current producer in `.producer`;
- Twisted calls a streaming producer's `pauseProducing` / `resumeProducing` / `stopProducing`.
When any of these stops holding, the consumer runs without flow control (`install_flow_control` returns False
and logs nothing): pushing still works, only a slow client's buffer is no longer bounded.
"""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)

__all__ = ["VERIFIED_AGAINST", "TransportFlow", "daphne_transport", "install_flow_control"]

# Distributions whose internals this file uses, at the versions it was last checked against.
VERIFIED_AGAINST = {"daphne": "4.2.3", "twisted": "26.10.0"}
RECHECK = ("daphne.server.Server.create_application still passes send=partial(server.handle_reply, protocol); "
           "the protocol's Twisted transport still has registerProducer/unregisterProducer/.producer "
           "(live/tests/test_daphne_flow.py)")


class TransportFlow:
    """Twisted push producer on daphne's transport: tells the consumer when to stop and resume writing.

    daphne leaves the HTTP channel that performed the upgrade registered as the transport's producer; we take
    its place and pass every call on to it, so daphne's own behaviour (it stops reading a client it cannot
    write to) is unchanged. The consumer needs `outbox.paused`, `outbox.pending` and `flush()`.
    """

    def __init__(self, consumer, previous=None):
        self.consumer = consumer
        self.previous = previous

    def pauseProducing(self):  # noqa: N802 (Twisted's interface names)
        self.consumer.outbox.paused = True
        if self.previous is not None:
            self.previous.pauseProducing()

    def resumeProducing(self):  # noqa: N802
        self.consumer.outbox.paused = False
        if self.previous is not None:
            self.previous.resumeProducing()
        if self.consumer.outbox.pending:
            asyncio.ensure_future(self.consumer.flush())

    def stopProducing(self):  # noqa: N802
        self.consumer.outbox.paused = True
        if self.previous is not None:
            self.previous.stopProducing()


try:  # Declare the interface when Twisted is there (it is under daphne); nothing depends on it otherwise.
    from twisted.internet.interfaces import IPushProducer
    from zope.interface import classImplements

    classImplements(TransportFlow, IPushProducer)
except ImportError:  # pragma: no cover
    pass


def daphne_transport(send):
    """daphne passes send=partial(server.handle_reply, protocol); the protocol owns the TCP (or TLS) transport."""
    func, args = getattr(send, "func", None), getattr(send, "args", ())
    if func is not None and getattr(func, "__name__", "") == "handle_reply" and args:
        transport = getattr(args[0], "transport", None)
        if transport is not None and hasattr(transport, "registerProducer"):
            return transport
    return None


def install_flow_control(consumer) -> bool:
    """Register the consumer's producer on daphne's transport; False when there is none to watch."""
    transport = daphne_transport(consumer.base_send)
    if transport is None:
        return False  # not daphne (tests, another server): no transport to watch
    previous = getattr(transport, "producer", None) or getattr(transport, "_producer", None)
    try:
        if previous is not None:
            transport.unregisterProducer()
        transport.registerProducer(TransportFlow(consumer, previous), True)
    except Exception:
        logger.warning("No flow control for this WebSocket: its transport refused a producer", exc_info=True)
        return False
    return True
