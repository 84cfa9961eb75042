"""live.daphne_flow against the real daphne and Twisted: the internals the consumer's flow control reaches.

If one of these fails after an upgrade, flow control silently switched itself off: re-check live/daphne_flow.py.
"""

import asyncio
from types import SimpleNamespace

from daphne.server import Server
from twisted.internet import tcp
from twisted.internet.testing import StringTransport

from live.daphne_flow import TransportFlow, daphne_transport, install_flow_control
from live.delivery import Outbox


class _Producer:
    """Stands in for daphne's HTTP channel, which stays registered as the transport's producer after upgrade."""

    def __init__(self):
        self.calls = []

    def pauseProducing(self):  # noqa: N802
        self.calls.append("pause")

    def resumeProducing(self):  # noqa: N802
        self.calls.append("resume")

    def stopProducing(self):  # noqa: N802
        self.calls.append("stop")


class _Protocol:
    """Stands in for daphne's WebSocketProtocol: what flow control needs of it is its Twisted transport."""

    def __init__(self):
        self.transport = StringTransport()


def _send_from_daphne(protocol):
    """The `send` callable daphne's Server.create_application hands an ASGI application for `protocol`."""
    captured = {}

    async def application(scope, receive, send):
        captured["send"] = send

    async def body():
        server = Server(application, endpoints=["tcp:port=0:interface=127.0.0.1"], signal_handlers=False)
        server.connections = {protocol: {}}
        server.create_application(protocol, {"type": "websocket", "path": "/ws"})
        await server.connections[protocol]["application_instance"]

    asyncio.run(body())
    return captured["send"]


def test_it_finds_the_protocols_transport_behind_daphnes_send():
    protocol = _Protocol()
    send = _send_from_daphne(protocol)
    assert daphne_transport(send) is protocol.transport


def test_it_takes_over_the_transports_producer_and_passes_calls_on_to_daphnes():
    protocol = _Protocol()
    daphnes = _Producer()
    protocol.transport.registerProducer(daphnes, True)
    consumer = SimpleNamespace(base_send=_send_from_daphne(protocol), outbox=Outbox())

    assert install_flow_control(consumer)
    flow = protocol.transport.producer
    assert isinstance(flow, TransportFlow)
    flow.pauseProducing()  # what the transport does past its high-water mark
    assert consumer.outbox.paused and daphnes.calls == ["pause"]
    flow.resumeProducing()
    assert not consumer.outbox.paused and daphnes.calls == ["pause", "resume"]


def test_it_relies_on_twisteds_tcp_transport_taking_a_producer():
    """daphne's protocols sit on tcp.Server (a tcp.Connection); flow control needs its producer interface."""
    for name in ("registerProducer", "unregisterProducer", "producer"):
        assert hasattr(tcp.Server, name), f"Twisted's TCP transport lost {name}: re-check live/daphne_flow.py"


def test_it_leaves_a_send_that_is_not_daphnes_without_flow_control():
    async def send(message):
        pass

    consumer = SimpleNamespace(base_send=send, outbox=Outbox())
    assert not install_flow_control(consumer)
