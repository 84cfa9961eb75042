"""Historian routes under /api/ (included before the tag routes in scada/urls.py).

Tag names contain dots (`pump-01.Speed`), so the name converter takes any segment without a slash; an unknown
name gets the tags app's clear 404.
"""

from django.urls import path, register_converter

from historian.api import views

app_name = "historian-api"


class HistoryTagNameConverter:
    """One path segment (dots and dashes included)."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(HistoryTagNameConverter, "historytag")

urlpatterns = [
    path("history", views.HistoryView.as_view(), name="history"),
    path("tags/<historytag:name>/history", views.TagHistoryView.as_view(), name="tag-history"),
]
