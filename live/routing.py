"""WebSocket routes of the live app; scada/asgi.py wraps them in accounts' authentication stack."""

from django.urls import re_path

from live.consumers import LiveConsumer

websocket_urlpatterns: list = [
    re_path(r"^/?ws/?$", LiveConsumer.as_asgi(), name="ws"),
]
