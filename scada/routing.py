"""WebSocket routes. Apps append their consumers here (tags adds /ws)."""

websocket_urlpatterns: list = []
