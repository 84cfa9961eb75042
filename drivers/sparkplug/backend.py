"""The Sparkplug B driver backend (settings.KILN_DRIVER_BACKENDS["sparkplug"]; contract in drivers.backends).

`run` (drivers.backends.LoopBackend's) loads the connection and its metric bindings, keeps one broker session
for the whole tenure (a binding change re-plans on the same session; only a change of broker, credentials or ids
reconnects), and runs drivers.sparkplug.loop.SparkplugLoop. A connection with no bindings yet runs too: it
discovers metrics for an engineer to accept. `write_request` is the web side of a write.
"""

from __future__ import annotations

import logging
import os

from drivers.backends import LoopBackend
from drivers.choices import Protocol
from tags.writers import DriverWriteError

logger = logging.getLogger(__name__)

__all__ = ["SparkplugBackend", "sparkplug_plan_load"]


def sparkplug_plan_load(connection_id: int):
    """(SparkplugSpec, [MetricPoint]) for an enabled Sparkplug connection (bindings may be none), else None."""
    from drivers.models import Connection, MetricBinding
    from drivers.sparkplug.loop import MetricPoint, SparkplugSpec

    c = Connection.objects.filter(pk=connection_id, enabled=True, protocol=Protocol.SPARKPLUG).first()
    if c is None:
        return None
    spec = SparkplugSpec(id=c.pk, name=c.name, host=c.host, port=c.port, tls=c.tls, username=c.username,
                         password=os.environ.get(c.password_env) if c.password_env else None, group_id=c.group_id,
                         host_id=c.host_id, timeout=c.timeout, backoff_cap=c.backoff_cap)
    points = [MetricPoint(tag_id=m.tag_id, name=m.tag.name, node=m.edge_node, device=m.device, metric=m.metric,
                          datatype=m.datatype)
              for m in MetricBinding.objects.filter(connection=c, tag__is_active=True).select_related("tag")]
    return spec, points


class SparkplugBackend(LoopBackend):
    """MQTT Sparkplug B: Kiln is a host application on the broker (drivers.sparkplug.loop); the link is the MQTT
    session (drivers.sparkplug.client), kept while only bindings change."""

    protocol = Protocol.SPARKPLUG

    def plan_load(self, connection_id: int):
        return sparkplug_plan_load(connection_id)

    def link_key(self, spec):
        return spec  # a change of broker, login or ids opens a fresh session

    def link_open(self, spec):
        from drivers.sparkplug.loop import client_for

        return client_for(spec)

    def link_close(self, client) -> None:
        client.close()  # says offline unless the loop is handing over to its successor

    def loop_for(self, spec, points, *, link, runtime, counters, previous):
        from drivers.services import VALUE_OUTBOX
        from drivers.sparkplug.loop import SparkplugLoop

        if previous is not None and previous.client is link:
            previous.replan(points)  # same session: bindings changed only
            return previous
        return SparkplugLoop(spec, points, sink=VALUE_OUTBOX, client=link, runtime=runtime, counters=counters)

    def write_request(self, *, connection, tag, value) -> tuple[dict, tuple[float, float]]:
        from drivers.models import MetricBinding
        from drivers.sparkplug.writes import metric_write_value

        m = MetricBinding.objects.filter(tag_id=tag.pk, connection=connection).first()
        if m is None:
            raise DriverWriteError("the tag is no longer bound to a Sparkplug metric; nothing was written")
        try:
            encoded = metric_write_value(value, m.datatype)
        except ValueError as exc:
            raise DriverWriteError(f"the metric cannot hold {value!r}: {exc}; nothing was written")
        request = {"tag_id": m.tag_id, "node": m.edge_node, "device": m.device, "metric": m.metric,
                   "datatype": m.datatype, "value": encoded}
        # Start: the loop wakes within a flush; allow 2 s or two timeouts. Then the PUBACK and the confirming value
        # (a timeout each), plus slack.
        start = max(2.0, 2 * connection.timeout)
        return request, (start, start + 2 * connection.timeout + 1.0)
