"""Views for tests/test_asgi_handler.py: each says which thread ran it."""

import threading
import time

from django.http import JsonResponse, StreamingHttpResponse
from django.urls import include, path


def whoami(request):
    return JsonResponse({"thread": threading.current_thread().name, "ident": threading.get_ident()})


def slow(request):
    time.sleep(float(request.GET.get("s", "0.3")))
    return JsonResponse({"ident": threading.get_ident()})


def stream(request):
    return StreamingHttpResponse((f"row {i}\n".encode() for i in range(3)), content_type="text/csv")


def explode(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("api/test/whoami", whoami),
    path("api/test/slow", slow),
    path("api/test/stream", stream),
    path("api/test/explode", explode),
    path("", include("scada.urls")),
]
