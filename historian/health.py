"""Is the historian's buffer durable, and does its writer keep up? (check --deploy, status, manage.py health)

Every recorded value waits in a Redis stream until the writer commits it to PostgreSQL. Without Redis's
append-only file a Redis restart (a reboot, an OOM kill, a package upgrade) silently loses what was waiting, up to
the buffer's quota. So production refuses to call that buffer durable: `check --deploy` reports an error, and
/api/system/status shows `buffer_durable: false` with the reason.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.core import checks

from historian.buffer import buffer_status
from historian.conf import conf

__all__ = ["buffer_durability", "buffer_durability_check", "historian_health"]


def buffer_durability(r) -> tuple[bool, str]:
    """(durable, why) for the Redis holding the buffer; raises redis.RedisError when it cannot be asked."""
    persistence = r.info("persistence")
    if not int(persistence.get("aof_enabled", 0)):
        rdb = "RDB snapshots only" if persistence.get("rdb_last_save_time") and _rdb_configured(r) else "no persistence"
        return False, (f"Redis has no append-only file ({rdb}): a Redis restart loses every sample still waiting "
                       "for the historian writer")
    return True, "Redis append-only file on"


def _rdb_configured(r) -> bool:
    try:
        return bool((r.config_get("save") or {}).get("save"))
    except redis.RedisError:  # CONFIG is often renamed or refused on managed Redis
        return False


@checks.register(checks.Tags.database, deploy=True)
def buffer_durability_check(app_configs=None, **kwargs):
    """check --deploy: the historian buffer's Redis must persist (appendonly yes); see docs/deployment.md."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=3)
    try:
        durable, why = buffer_durability(client)
    except redis.RedisError as exc:
        return [checks.Warning(f"Could not ask Redis whether the historian buffer is durable: {str(exc)[:160]}",
                               hint="Run check --deploy where REDIS_URL is reachable.", id="historian.W001")]
    finally:
        client.close()
    if durable:
        return []
    return [checks.Error(f"The historian buffer is not durable: {why}.",
                         hint="Set `appendonly yes` and `appendfsync everysec` in redis.conf (docs/deployment.md, "
                              "'Redis persistence') and restart Redis.", id="historian.E001")]


def historian_health():
    """`manage.py health historian`: the writer keeps up (the oldest buffered sample is younger than the limit).

    Measured on the buffer rather than on the writer's last commit: an idle plant commits nothing and is healthy,
    while a writer stuck or dead (or a beat that stopped scheduling it) lets the oldest entry age at once.
    """
    from scada.health import Health

    info = buffer_status()
    age = info["oldest_buffered_age_seconds"]
    limit = conf.KILN_HISTORIAN_HEALTH_MAX_LAG_SECONDS
    facts = {k: info[k] for k in ("buffered_samples", "oldest_buffered_age_seconds", "writer_last_commit",
                                  "writer_last_error", "dropped_samples_total")}
    if age is not None and age > limit:
        error = f"; last error: {info['writer_last_error']}" if info["writer_last_error"] else ""
        return Health("historian", False, f"the oldest buffered sample is {age:g} s old (limit {limit} s): the "
                                          f"writer is stopped, stuck or behind{error}", facts)
    return Health("historian", True, f"{info['buffered_samples']} samples buffered, oldest "
                                     f"{age if age is not None else 0:g} s (limit {limit} s)", facts)


historian_health.health_name = "historian"
