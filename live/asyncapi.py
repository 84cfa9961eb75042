"""The /ws protocol as an AsyncAPI 2.6 document (served at /api/ws/asyncapi.json, shown at /api/docs/ws/).

Integrators look beside /api/docs/ for the REST API; the WebSocket protocol is written down there too, with an
example of every frame. The examples are the frames live.consumers and alarms.live send (live/tests/
test_asyncapi.py sends each client example to a real consumer and checks the answer's type).
"""

from __future__ import annotations

from django.conf import settings

__all__ = ["asyncapi_document"]

_VALUE = {"type": "object", "properties": {
    "tag": {"type": "string"}, "value": {"description": "number, boolean or string; null before the first value"},
    "quality": {"type": ["string", "null"], "enum": ["GOOD", "UNCERTAIN", "BAD", None]},
    "substatus": {"type": "string", "description": "only when the quality has one (comm_failure, stale, ...)"},
    "ts": {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601 UTC"}}}


def _msg(name: str, summary: str, example: dict, payload: dict | None = None) -> dict:
    return {"name": name, "title": name, "summary": summary, "contentType": "application/json",
            "payload": payload or {"type": "object", "properties": {"type": {"const": example["type"]}}},
            "examples": [{"name": name, "payload": example}]}


CLIENT = [
    _msg("subscribe", 'Watch tags: the current value of each, then every change. "snapshot": true answers the '
         'current values in one frame; "batch": true sends each recorded batch as one frame. An optional "id" is '
         "echoed. Unknown names are named in an error frame (partial: true) and the others subscribed; a "
         "subscribe naming only unknown tags is refused.",
         {"type": "subscribe", "tags": ["Reactor_Temp", "Tank_Level"], "snapshot": True, "id": 1}),
    _msg("unsubscribe", "End one subscription, the subscriptions of some tags, or (no field) all of them.",
         {"type": "unsubscribe", "subscription": 1}),
    _msg("ping", "Liveness check.", {"type": "ping"}),
    _msg("subscribe_alarms", "The annunciated alarms now, then every alarm change (the HMI's banner).",
         {"type": "subscribe_alarms"}),
    _msg("unsubscribe_alarms", "Stop the alarm stream.", {"type": "unsubscribe_alarms"}),
]

SERVER = [
    _msg("update", "One tag's value: the initial value of a subscribed tag (with \"subscription\") or a change.",
         {"type": "update", "tag": "Reactor_Temp", "value": 72.4, "quality": "GOOD", "ts": "2026-04-01T08:00:01.250Z",
          "subscription": 1}, {"allOf": [_VALUE, {"properties": {"type": {"const": "update"}}}]}),
    _msg("snapshot", 'The current values of a subscription asked with "snapshot": true.',
         {"type": "snapshot", "subscription": 1, "batch": False, "id": 1, "values": [
             {"tag": "Reactor_Temp", "value": 72.4, "quality": "GOOD", "ts": "2026-04-01T08:00:01.250Z"},
             {"tag": "Tank_Level", "value": None, "quality": None, "ts": None}]}),
    _msg("batch", 'Changes recorded together, for subscriptions asked with "batch": true.',
         {"type": "batch", "updates": [{"type": "update", "tag": "Tank_Level", "value": 63.5, "quality": "BAD",
                                        "substatus": "comm_failure", "ts": "2026-04-01T08:00:02Z"}]}),
    _msg("unsubscribed", "What an unsubscribe ended.",
         {"type": "unsubscribed", "subscriptions": [1], "tags": ["Reactor_Temp", "Tank_Level"]}),
    _msg("pong", "The answer to ping.", {"type": "pong"}),
    _msg("error", "A refused or partly done request; nothing else changed unless \"partial\" is true. "
         "\"request\" names the message type it answers, \"tags\" the names concerned.",
         {"type": "error", "detail": "Unknown tags: Tank_Levle; subscribed to the other 1.", "request": "subscribe",
          "tags": ["Tank_Levle"], "partial": True, "id": 1}),
    _msg("alarms_snapshot", "Every annunciated alarm (as GET /api/alarms/{id} shows it).",
         {"type": "alarms_snapshot", "alarms": [{"id": 7, "key": "reactor_temp_hi", "name": "Reactor Temp High",
                                                 "tag": "Reactor_Temp", "priority": "high",
                                                 "state": "active_unacked", "seq": 3}]}),
    _msg("alarms", "Alarms that changed; \"seq\" grows with every change of an alarm (ignore an older one).",
         {"type": "alarms", "alarms": [{"id": 7, "state": "active_acked", "acked_by": "operator", "seq": 4}]}),
]


def asyncapi_document() -> dict:
    """The AsyncAPI 2.6 document of /ws (built per call: the limits come from settings)."""
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "Kiln SCADA WebSocket API",
            "version": settings.SPECTACULAR_SETTINGS.get("VERSION", ""),
            "description": (
                "Live tag values and alarms over one WebSocket, JSON text frames both ways. Connect to "
                "`/ws?token=<access token or API key>` (the same tokens as the REST API; POST /api/auth/login). "
                f"At most {settings.KILN_WS_MAX_SUBSCRIPTIONS} subscriptions per client over all its "
                "connections. The socket closes with code 4001 when the token expires or is revoked, and "
                "the handshake is refused (HTTP 403) without a valid token or from a foreign Origin. A slow "
                "client gets the latest value of each tag, never a backlog."),
        },
        "servers": {"kiln": {"url": "{host}/ws", "protocol": "ws", "description": "wss:// behind TLS",
                             "variables": {"host": {"default": "localhost:8000"}}}},
        "channels": {"/ws": {
            "publish": {"summary": "Client → Kiln", "message": {"oneOf": CLIENT}},
            "subscribe": {"summary": "Kiln → client", "message": {"oneOf": SERVER}},
        }},
    }
