"""Views for tests/test_asgi_handler.py: each says which thread ran it."""

import threading
import time

from django.http import JsonResponse, StreamingHttpResponse
from django.urls import include, path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


def whoami(request):
    return JsonResponse({"thread": threading.current_thread().name, "ident": threading.get_ident()})


def slow(request):
    time.sleep(float(request.GET.get("s", "0.3")))
    return JsonResponse({"ident": threading.get_ident()})


def stream(request):
    return StreamingHttpResponse((f"row {i}\n".encode() for i in range(3)), content_type="text/csv")


def explode(request):
    raise RuntimeError("boom")


class PairSerializer(serializers.Serializer):
    name = serializers.CharField()
    items = serializers.ListField(child=serializers.IntegerField())


class DrfPairView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def get(self, request):
        return Response(PairSerializer({"name": "a", "items": [1, 2]}).data)


urlpatterns = [
    path("api/test/drf", DrfPairView.as_view()),
    path("api/test/whoami", whoami),
    path("api/test/slow", slow),
    path("api/test/stream", stream),
    path("api/test/explode", explode),
    path("", include("scada.urls")),
]
