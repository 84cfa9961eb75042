"""Historian Celery tasks (default queue). Thin: each calls one service and returns a small summary.

Why a frequently scheduled writer rather than one endless task: beat starts `historian_writer_task` every
second; a run drains until the buffer is empty (usually well under a second) or for at most
KILN_HISTORIAN_WRITER_RUN_SECONDS under load, holding a Redis lease so runs never overlap. An idle plant
therefore keeps no worker slot busy, a crashed or killed run is replaced within a second, and there is no
long-lived task for a deploy to wait on. Every task is idempotent (draining, recomputing a rollup, creating a
partition twice all converge), which acks_late requires.
"""

from __future__ import annotations

from celery import shared_task

from historian.conf import conf

__all__ = ["historian_writer_task", "historian_rollups_task", "historian_maintenance_task",
           "historian_heartbeat_task", "historian_drops_audit_task", "historian_compact_task"]

# The schedule of these tasks is CELERY_BEAT_SCHEDULE in scada/settings.py (one beat schedule for every app).


@shared_task(acks_late=True, time_limit=conf.KILN_HISTORIAN_WRITER_RUN_SECONDS + 120, ignore_result=True)
def historian_writer_task() -> dict:
    from historian.writer import historian_writer_run

    run = historian_writer_run()
    return {"lease": run.lease, "flushes": run.flushes, "samples": run.samples, "error": run.error}


@shared_task(acks_late=True, time_limit=120, ignore_result=True)
def historian_rollups_task() -> dict:
    from historian.rollups import rollups_refresh

    run = rollups_refresh(budget_seconds=20)
    return {"chunks": run.chunks, "minute_rows": run.minute_rows, "hour_rows": run.hour_rows, "busy": run.busy}


@shared_task(acks_late=True, time_limit=1800, ignore_result=True)
def historian_maintenance_task() -> dict:
    from historian.partitions import partitions_maintain
    from historian.services import historian_orphans_delete, historian_retention_apply

    result = partitions_maintain()
    retention = historian_retention_apply()
    orphans = historian_orphans_delete()
    return {"created": len(result["created"]), "dropped": len(result["dropped"]), "errors": result["errors"],
            "per_tag": retention["per_tag"],
            "orphans": len(orphans)}


@shared_task(acks_late=True, time_limit=120, ignore_result=True)
def historian_heartbeat_task() -> int:
    from historian.services import historian_heartbeat

    return historian_heartbeat()


@shared_task(acks_late=True, time_limit=60, ignore_result=True)
def historian_drops_audit_task() -> int:
    from historian.services import historian_drops_audit

    return historian_drops_audit()


@shared_task(acks_late=True, time_limit=conf.KILN_HISTORIAN_COMPACT_BUDGET + 600, ignore_result=True)
def historian_compact_task() -> dict:
    from historian.compaction import historian_compact

    run = historian_compact()
    return {"windows": run.windows, "values": run.values, "seconds": round(run.seconds, 3), "busy": run.busy}
