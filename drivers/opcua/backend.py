"""The OPC UA driver backend (settings.KILN_DRIVER_BACKENDS["opcua"]; contract in drivers.backends).

`run` loads the connection and its nodes, keeps one session for the whole tenure (a configuration change touches
only the changed monitored items), and runs drivers.opcua.loop.OpcuaLoop. `write_request` is the web side of a write.
The OPC UA stack (asyncua) is imported only by a worker that runs an OPC UA connection and by a web process
at its first OPC UA write or browse, never at start-up.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings

from drivers.backends import LoopBackend
from drivers.choices import Protocol
from tags.writers import DriverWriteError

logger = logging.getLogger(__name__)

__all__ = ["OpcuaBackend", "opcua_plan_load", "opcua_spec"]


def opcua_spec(c):
    """The session's view of a Connection row (its password read from the environment variable it names)."""
    from drivers.opcua.session import OpcuaSpec

    return OpcuaSpec(id=c.pk, name=c.name, endpoint_url=c.endpoint_url, timeout=c.timeout,
                     backoff_cap=c.backoff_cap, security=c.security,
                     server_certificate_sha256=c.server_certificate_sha256, username=c.username,
                     password=os.environ.get(c.password_env) if c.password_env else None,
                     session_timeout=c.session_timeout, publishing_interval=c.publishing_interval,
                     pki_dir=settings.KILN_OPCUA_PKI_DIR)


def opcua_plan_load(connection_id: int):
    """(OpcuaSpec, [NodePoint]) for an enabled OPC UA connection with active bound tags, else None."""
    from drivers.models import Connection, NodeBinding
    from drivers.opcua.session import NodePoint

    c = Connection.objects.filter(pk=connection_id, enabled=True, protocol=Protocol.OPCUA).first()
    if c is None:
        return None
    points = [NodePoint(tag_id=n.tag_id, name=n.tag.name, node_id=n.node_id, sampling_interval=n.sampling_interval,
                        deadband=n.deadband, variant=n.variant)
              for n in NodeBinding.objects.filter(connection=c, tag__is_active=True).select_related("tag")]
    if not points:
        return None
    return opcua_spec(c), points


class OpcuaBackend(LoopBackend):
    """OPC UA: one session per connection, data by subscription (drivers.opcua.loop)."""

    protocol = Protocol.OPCUA

    def plan_load(self, connection_id: int):
        return opcua_plan_load(connection_id)

    def link_key(self, spec):
        return spec  # any change of the connection's own settings opens a fresh session

    def link_open(self, spec):
        from drivers.opcua.session import OpcuaSession

        return OpcuaSession(spec)

    def link_close(self, session) -> None:
        session.stop()

    def loop_for(self, spec, points, *, link, runtime, counters, previous):
        from drivers.opcua.loop import OpcuaLoop
        from drivers.services import VALUE_OUTBOX

        if previous is not None and previous.session is link:
            previous.reconfigure(points)  # same session: only the changed monitored items are touched
            return previous
        return OpcuaLoop(spec, points, sink=VALUE_OUTBOX, session=link, runtime=runtime, counters=counters)

    def write_request(self, *, connection, tag, value) -> tuple[dict, tuple[float, float]]:
        from drivers.models import NodeBinding

        n = NodeBinding.objects.filter(tag_id=tag.pk, connection=connection).first()
        if n is None:
            raise DriverWriteError("the tag is no longer bound to an OPC UA node; nothing was written")
        if n.variant != "auto":
            from asyncua import ua

            from drivers.opcua.loop import coerce_for_variant

            try:
                coerce_for_variant(value, ua.VariantType[n.variant])
            except ValueError as exc:
                raise DriverWriteError(f"the node cannot hold {value!r}: {exc}; nothing was written")
        request = {"tag_id": n.tag_id, "node_id": n.node_id, "variant": n.variant, "value": value}
        # Start: the loop wakes within a flush; allow 2 s or two timeouts. Then a type read (auto), the write and
        # the read-back, plus slack.
        start = max(2.0, 2 * connection.timeout)
        return request, (start, start + 3 * (connection.timeout + 0.5) + 0.5)
