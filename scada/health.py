"""Worker health for supervisors and containers: is each kind of background work alive and current?

`manage.py health` runs the checks named in settings.KILN_HEALTH_CHECKS (each app owns its own: drivers say
whether every enabled connection is being polled, the historian whether its writer keeps up, alarms whether the
timer task runs) and, with --node, asks one Celery worker by name whether it answers. It exits 0 when all pass,
1 when any fails, so systemd (ExecStartPost / a timer), a container HEALTHCHECK or a monitoring agent can use it.

Why checks of the work and not only of the process: a worker whose main process answers pings while its poll
loops are wedged, or a beat that died (so nothing is scheduled), is alive but not current. Each check reads what
the work itself writes to Redis every second or so (leases, the buffer's oldest entry, the timer task's last run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from scada.extensions import extension_list

__all__ = ["Health", "health_run", "celery_node_health"]


@dataclass
class Health:
    """One check's answer: `ok`, one line a person can act on, and the figures behind it."""

    name: str
    ok: bool
    detail: str
    facts: dict = field(default_factory=dict)


def health_run(names: list[str] | None = None) -> list[Health]:
    """Run the checks of KILN_HEALTH_CHECKS (all, or those whose name is in `names`); a check that raises fails."""
    out = []
    for path, check in extension_list("KILN_HEALTH_CHECKS"):
        name = getattr(check, "health_name", path.rsplit(".", 1)[-1])
        if names and name not in names:
            continue
        try:
            out.append(check())
        except Exception as exc:  # noqa: BLE001 - a health check reports every failure, it never raises
            out.append(Health(name, False, f"check failed: {type(exc).__name__}: {str(exc)[:200]}"))
    return out


def celery_node_health(node: str, timeout: float = 2.0) -> Health:
    """Does the Celery worker named `node` (e.g. drivers@plc-host-1) answer a ping through the broker?"""
    from scada.celery import app

    try:
        with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.2, timeout=2)
            replies = app.control.ping(destination=[node], timeout=timeout, connection=conn) or []
    except Exception as exc:  # noqa: BLE001
        return Health("node", False, f"broker unreachable: {str(exc)[:200]}", {"node": node})
    if any(node in reply for reply in replies):
        return Health("node", True, f"{node} answers", {"node": node})
    return Health("node", False, f"{node} did not answer within {timeout:g} s", {"node": node})
