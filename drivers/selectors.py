"""Read-side of the drivers: connection status rows for GET /api/system/drivers and /api/system/status.

Statistics come from Redis, where each poll loop rewrites its connection's hash every second; the lease says
whether any loop polls the connection right now. One pipeline per page, whatever its size.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
from django.conf import settings
from django.db.models import Count, Q

from drivers import runtime
from drivers.choices import ConnectionState
from drivers.models import Connection
from scada.api.renderers import iso_utc
from scada.redis import get_redis

__all__ = ["connection_queryset", "connection_status_rows", "drivers_summary", "drivers_status_provider",
           "drivers_health"]


def connection_queryset():
    return Connection.objects.annotate(
        tag_count=Count("bindings", distinct=True) + Count("nodes", distinct=True)
        + Count("metrics", distinct=True) + Count("topics", distinct=True)).order_by("name")


def _iso(epoch) -> str | None:
    return iso_utc(datetime.fromtimestamp(epoch, tz=UTC)) if epoch else None


def connection_status_rows(connections: list[Connection]) -> list[dict]:
    ids = [c.pk for c in connections]
    if not ids:
        return []
    pipe = get_redis().pipeline(transaction=False)
    for cid in ids:
        pipe.get(runtime.lease_key(cid))
        pipe.hget(runtime.stats_key(cid), "json")
    raw = pipe.execute()
    rows = []
    for i, c in enumerate(connections):
        lease, stats_raw = raw[2 * i], raw[2 * i + 1]
        s = orjson.loads(stats_raw) if stats_raw else {}
        if not c.enabled:
            state = ConnectionState.DISABLED
        elif not lease:
            state = ConnectionState.STOPPED
        else:
            state = s.get("state") or ConnectionState.CONNECTING
        rows.append({
            "id": c.pk,
            "name": c.name,
            "protocol": c.protocol,
            "host": c.host,
            "port": c.port,
            "unit_id": c.unit_id,
            "endpoint_url": c.endpoint_url or None,
            "enabled": c.enabled,
            "state": str(state),
            "worker": s.get("worker") if lease else None,
            "last_poll": _iso(s.get("last_poll")),
            "poll_ms_p50": s.get("poll_ms_p50"),
            "poll_ms_p99": s.get("poll_ms_p99"),
            "jitter_ms_p99": s.get("jitter_ms_p99"),
            "cycles": s.get("cycles", 0),
            "overruns": s.get("overruns", 0),
            "errors": s.get("errors", 0),
            "reconnects": s.get("reconnects", 0),
            "writes": s.get("writes", 0),
            "tags": getattr(c, "tag_count", None) if getattr(c, "tag_count", None) is not None else s.get("tags", 0),
            "tags_bad": s.get("tags_bad", 0),
            "values_per_s": s.get("values_per_s", 0.0) if lease else 0.0,
            "last_error": s.get("last_error") or None,
            "last_error_at": _iso(s.get("last_error_at")),
            "scan_classes": s.get("scan_classes", []) if lease else [],
        })
    return rows


def drivers_summary() -> dict:
    """For /api/system/status: 'ok' when every enabled connection is connected."""
    rows = connection_status_rows(list(connection_queryset()))
    enabled = [r for r in rows if r["enabled"] and r["tags"]]  # nothing bound: nothing to poll
    down = [r["name"] for r in enabled if r["state"] != ConnectionState.CONNECTED]
    return {
        "state": "ok" if not down else "degraded",
        "connections": len(rows),
        "connected": len(enabled) - len(down),
        "not_connected": down,
        "tags_bad": sum(r["tags_bad"] or 0 for r in rows),
        "checked_at": iso_utc(datetime.fromtimestamp(time.time(), tz=UTC)),
    }


def drivers_status_provider() -> tuple[str, dict]:
    """The drivers' part of /api/system/status (settings.KILN_STATUS_PROVIDERS): every connection's state."""
    return "drivers", drivers_summary()


# It reads the database: while the database is down /api/system/status reports it "unknown" instead of waiting.
drivers_status_provider.needs_database = True
drivers_status_provider.status_name = "drivers"


def drivers_health():
    """`manage.py health drivers`: every enabled connection with bound tags has a live poll-loop lease.

    A lease lives LEASE_TTL_MS (5 s) unless its loop renews it every second, so a held lease means a loop ran its
    housekeeping within 5 s: alive and current, whether or not its PLC answers (a PLC fault is the PLC's
    problem, shown as BAD quality and in /api/system/drivers, not a reason to restart a worker).
    """
    from scada.health import Health

    conns = list(Connection.objects.filter(Q(bindings__isnull=False) | Q(nodes__isnull=False), enabled=True,
                                           protocol__in=list(settings.KILN_DRIVER_BACKENDS)).distinct()
                 .values_list("pk", "name"))
    holders = runtime.lease_holders([cid for cid, _ in conns])
    unpolled = sorted(name for cid, name in conns if not holders.get(cid))
    facts = {"connections": len(conns), "polled": len(conns) - len(unpolled), "not_polled": unpolled}
    if unpolled:
        return Health("drivers", False, f"{len(unpolled)} of {len(conns)} connections not polled: "
                                        f"{', '.join(unpolled[:10])} (no drivers worker holds their lease)", facts)
    return Health("drivers", True, f"all {len(conns)} enabled connections polled", facts)


drivers_health.health_name = "drivers"
