"""The /ws protocol's documentation under /api/ (namespace live-api)."""

from django.urls import path

from live.api import views

app_name = "live-api"

urlpatterns = [
    path("ws/asyncapi.json", views.AsyncApiView.as_view(), name="asyncapi"),
    path("docs/ws/", views.ws_docs_view, name="ws-docs"),
]
