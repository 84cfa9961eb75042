"""The plain MQTT (JSON topics) backend (settings.KILN_DRIVER_BACKENDS["mqtt_json"]; contract in drivers.backends).

Read-only: a write is refused before anything is sent (a device's command topic and format are not standard).
"""

from __future__ import annotations

import os

from drivers.backends import LoopBackend
from drivers.choices import Protocol
from tags.writers import DriverWriteError

__all__ = ["MqttJsonBackend", "mqtt_plan_load"]


def mqtt_plan_load(connection_id: int):
    """(MqttSpec, [TopicPoint]) for an enabled MQTT JSON connection with active bound tags, else None."""
    from drivers.models import Connection, TopicBinding
    from drivers.mqttjson.loop import MqttSpec, TopicPoint

    c = Connection.objects.filter(pk=connection_id, enabled=True, protocol=Protocol.MQTT_JSON).first()
    if c is None:
        return None
    points = [TopicPoint(tag_id=t.tag_id, topic=t.topic, json_path=t.json_path)
              for t in TopicBinding.objects.filter(connection=c, tag__is_active=True)]
    if not points:
        return None
    return MqttSpec(id=c.pk, name=c.name, host=c.host, port=c.port, tls=c.tls, username=c.username,
                    password=os.environ.get(c.password_env) if c.password_env else None, timeout=c.timeout,
                    backoff_cap=c.backoff_cap), points


class MqttJsonBackend(LoopBackend):
    """Plain MQTT: one paho session per connection, a subscription per bound topic filter."""

    protocol = Protocol.MQTT_JSON

    def plan_load(self, connection_id: int):
        return mqtt_plan_load(connection_id)

    def link_key(self, spec):
        return spec

    def link_open(self, spec):
        from drivers.mqttjson.loop import MqttLink

        return MqttLink(spec)

    def link_close(self, link) -> None:
        link.close()

    def loop_for(self, spec, points, *, link, runtime, counters, previous):
        from drivers.mqttjson.loop import MqttJsonLoop
        from drivers.services import VALUE_OUTBOX

        if previous is not None and previous.link is link:
            previous.replan(points)
            return previous
        return MqttJsonLoop(spec, points, sink=VALUE_OUTBOX, link=link, runtime=runtime, counters=counters)

    def write_request(self, *, connection, tag, value) -> tuple[dict, tuple[float, float]]:
        raise DriverWriteError("MQTT JSON topics are read-only in Kiln; nothing was written")
