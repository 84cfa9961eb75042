"""System endpoints: health (public, for load balancers) and status (Operator+)."""

import concurrent.futures
import threading
import time

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from scada.extensions import extension_list
from scada.outage import RETRY_AFTER_SECONDS, database_unavailable_reason
from scada.redis import get_redis

STARTED_AT = time.time()


# The longest /api/system/status waits for the database before reporting it down. The check runs on its own
# thread: a server that accepts and never answers, or a connection frozen mid-query (which no server-side
# timeout can end), then costs the page this long, and at most one stuck thread, never a hung page.
DATABASE_CHECK_SECONDS = 3.0
_db_check_lock = threading.Lock()
_db_check_pending: concurrent.futures.Future | None = None
_db_check_executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kiln-db-check")


def _database_ping() -> dict:
    t0 = time.perf_counter()
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - a status page reports every failure, it never raises
        return {"state": "down", "error": f"Database unavailable: {database_unavailable_reason(exc)}"}
    finally:
        # Back to the pool (or closed) at once: a connection idling on this thread would answer for a server
        # that has since gone away, and would keep one of the pool's few connections from requests.
        connection.close()
    return {"state": "ok", "vendor": connection.vendor, "latency_ms": round((time.perf_counter() - t0) * 1000, 2)}


def _check_database() -> dict:
    """Ping the database from the checker thread, waiting at most DATABASE_CHECK_SECONDS."""
    global _db_check_pending
    with _db_check_lock:
        if _db_check_pending is None or _db_check_pending.done():
            _db_check_pending = _db_check_executor.submit(_database_ping)
        pending = _db_check_pending
    try:
        return pending.result(timeout=DATABASE_CHECK_SECONDS)
    except concurrent.futures.TimeoutError:
        return {"state": "down", "error": f"Database unavailable: no answer within {DATABASE_CHECK_SECONDS:g} s"}


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
    """GET /api/system/health: 200 while the process can serve requests, 503 when its database cannot answer.

    No token (for load balancers). Redis is not checked here: every web process shares it, so taking them all
    out of rotation for it would only turn a degraded service (status, HMI pages) into none.
    """

    authentication_classes: list = []
    throttle_classes: list = []  # a load balancer polls it often from one address; a 429 would look like "down"

    @extend_schema(auth=[], responses={
        200: inline_serializer("Health", {"status": serializers.CharField()}),
        503: inline_serializer("HealthDown", {"status": serializers.CharField(), "detail": serializers.CharField()})})
    def get(self, request):
        database = _check_database()
        if database["state"] != "ok":
            return Response({"status": "down", "detail": database["error"]}, status=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
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
            if getattr(provider, "needs_database", False) and components["database"]["state"] != "ok":
                name = getattr(provider, "status_name", provider.__name__)
                components[name] = {"state": "unknown", "error": "not checked: the database is unavailable"}
                continue
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
