"""Alarm timers (Celery beat, every second): delays that ran out, shelving that expired, deferred journal rows.

Thin and idempotent: every step is a compare-and-set (Redis) or a conditional UPDATE (database), so two workers
running it at once, or a retry, do each thing once.
"""

import time

from celery import shared_task

from alarms.evaluation import alarms_tick, unapplied_drain
from alarms.runtime import timers_ran
from alarms.services import alarm_shelves_expire

__all__ = ["alarms_timers_task"]


@shared_task(name="alarms.tasks.alarms_timers_task", acks_late=True, time_limit=30, ignore_result=True)
def alarms_timers_task() -> dict:
    drained = unapplied_drain()
    flipped = alarms_tick()
    expired = alarm_shelves_expire()
    timers_ran(time.time())  # last, so a run that failed midway does not count as alive
    return {"delays": flipped, "shelves_expired": expired, "deferred_applied": drained}
