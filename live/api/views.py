"""The WebSocket protocol's documentation beside /api/docs/: the AsyncAPI document and a page that shows it."""

from __future__ import annotations

import json

from django.conf import settings
from django.shortcuts import render
from rest_framework.response import Response
from rest_framework.views import APIView

from live.asyncapi import asyncapi_document

__all__ = ["AsyncApiView", "ws_docs_view"]


class AsyncApiView(APIView):
    """GET /api/ws/asyncapi.json: the /ws protocol as AsyncAPI 2.6 (public, as /api/schema/ is)."""

    authentication_classes: list = []
    schema = None  # not a REST route: it is in the AsyncAPI document itself, not in the OpenAPI one

    def get(self, request):
        return Response(asyncapi_document())


def ws_docs_view(request):
    """GET /api/docs/ws/: the protocol for people (every message, with its example), from the same document."""
    doc = asyncapi_document()
    channel = doc["channels"]["/ws"]

    def rows(messages):
        return [{"name": m["name"], "summary": m["summary"],
                 "example": json.dumps(m["examples"][0]["payload"], indent=2, ensure_ascii=False)} for m in messages]

    return render(request, "live/ws_docs.html", {
        "doc": doc, "client": rows(channel["publish"]["message"]["oneOf"]),
        "server": rows(channel["subscribe"]["message"]["oneOf"]),
        "extensions": sorted(settings.KILN_LIVE_MESSAGE_HANDLERS),
    })
