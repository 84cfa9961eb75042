"""System endpoints: health (public, for load balancers) and status (Operator+)."""

import time

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from scada.extensions import extension_list
from scada.redis import get_redis

STARTED_AT = time.time()


def _check_database() -> dict:
    t0 = time.perf_counter()
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return {"state": "ok", "vendor": connection.vendor, "latency_ms": round((time.perf_counter() - t0) * 1000, 2)}
    except Exception as exc:  # noqa: BLE001 - a status page reports every failure, it never raises
        return {"state": "down", "error": str(exc)[:200]}


def _check_redis() -> dict:
    t0 = time.perf_counter()
    try:
        get_redis().ping()
        return {"state": "ok", "latency_ms": round((time.perf_counter() - t0) * 1000, 2)}
    except Exception as exc:  # noqa: BLE001
        return {"state": "down", "error": str(exc)[:200]}


def _check_celery() -> dict:
    try:
        from scada.celery import app

        # The URL from settings at call time (not the app's cached config), so one place decides the broker.
        with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            # Fail fast on a dead broker: Celery's own retries would hold the status page for seconds.
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.2, timeout=2)
            replies = app.control.ping(timeout=0.5, connection=conn) or []
        workers = sorted(name for reply in replies for name in reply)
        return {"state": "ok" if workers else "down", "workers": workers}
    except Exception as exc:  # noqa: BLE001
        return {"state": "down", "workers": [], "error": str(exc)[:200]}


class HealthView(APIView):
    """GET /api/system/health: 200 while the process serves requests (no token; for load balancers)."""

    authentication_classes: list = []
    throttle_classes: list = []  # a load balancer polls it often from one address; a 429 would look like "down"

    @extend_schema(auth=[], responses=inline_serializer("Health", {"status": serializers.CharField()}))
    def get(self, request):
        return Response({"status": "ok"})


class StatusView(APIView):
    """GET /api/system/status: database, Redis, Celery workers, version, uptime. Never a 500 for a dead part.

    It must answer while Redis is down (that is when people look at it), so its caller is authenticated from
    the database when the revocation store is unreachable; the rate limit lets it through uncounted then.
    """

    auth_survives_redis_outage = True

    @extend_schema(responses=inline_serializer("SystemStatus", {
        "status": serializers.CharField(), "version": serializers.CharField(),
        "uptime_seconds": serializers.IntegerField(), "components": serializers.DictField()}))
    def get(self, request):
        components = {"database": _check_database(), "redis": _check_redis(), "celery": _check_celery()}
        # Apps' components (historian buffer, drivers), each a callable returning (name, dict), in settings order.
        for _path, provider in extension_list("KILN_STATUS_PROVIDERS"):
            try:
                name, info = provider()
            except Exception as exc:  # noqa: BLE001
                name, info = getattr(provider, "__name__", "component"), {"state": "down", "error": str(exc)[:200]}
            components[name] = info
        states = {c.get("state") for c in components.values()}
        overall = "ok" if states <= {"ok"} else ("down" if components["database"]["state"] == "down" else "degraded")
        return Response({
            "status": overall,
            "version": settings.VERSION,
            "uptime_seconds": int(time.time() - STARTED_AT),
            "components": components,
        })
