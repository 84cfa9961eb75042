"""WebSocket routes. Apps append their consumers here (tags adds /ws)."""

from django.urls import re_path

from tags.consumers import TagConsumer

websocket_urlpatterns: list = [
    re_path(r"^/?ws/?$", TagConsumer.as_asgi(), name="ws"),
]
