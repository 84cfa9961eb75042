"""Celery tasks of the drivers queue: one long-lived poll task per connection, and the beat supervisor.

Why a long-lived task per connection and not a beat entry per cycle: beat's resolution, broker latency and task
start-up would each eat into a 100 ms period and its ≤ 10 ms start jitter. A loop that owns its socket and
schedules itself on a fixed grid has neither cost. Celery still does what it is good at: placing loops on
workers, restarting them (beat re-arms a connection whose lease lapsed), and handing over at the end of a
tenure. See docs/architecture.md, "Drivers and polling".
"""

from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.signals import worker_ready, worker_shutting_down

from drivers.services import ARMED_TTL_SECONDS, POLL_TENURE_SECONDS, connection_poll_run, drivers_supervise

__all__ = ["poll_connection_task", "poll_supervise_task"]


def _enqueue_successor(connection_id: int, token: str) -> None:
    poll_connection_task.apply_async(args=[connection_id], kwargs={"lease_token": token}, queue="drivers")


@shared_task(name="drivers.poll_connection", queue="drivers", bind=True, acks_late=False, ignore_result=True,
             time_limit=POLL_TENURE_SECONDS + 60, soft_time_limit=POLL_TENURE_SECONDS + 30)
def poll_connection_task(self, connection_id: int, lease_token: str | None = None) -> str:
    """Poll one connection for one tenure. Idempotent: a second copy finds the lease taken and returns 'busy'.

    acks_late is off on purpose: a loop killed mid-tenure must not be redelivered later by the broker; beat
    re-arms the connection once its lease lapses (≤ 5 s), which is the one restart path.
    """
    hostname = f"{self.request.hostname or 'worker'}:{os.getppid()}"
    return connection_poll_run(connection_id=connection_id, token=lease_token, hostname=hostname,
                               successor=_enqueue_successor)


@shared_task(name="drivers.poll_supervise", queue="drivers", ignore_result=True, time_limit=30, expires=10)
def poll_supervise_task() -> dict:
    """Arm poll tasks for enabled connections nobody polls (beat, every 5 s)."""
    # expires: an arming that no worker picked up in time is dropped; the next supervision arms afresh.
    return drivers_supervise(enqueue=lambda cid: poll_connection_task.apply_async(
        args=[cid], queue="drivers", expires=ARMED_TTL_SECONDS))


@worker_ready.connect
def _start_poll_loops(sender=None, **kwargs):
    # A worker that (re)starts brings the loops up at once instead of waiting for the next beat tick.
    poll_supervise_task.apply_async(queue="drivers")


@worker_shutting_down.connect
def _stop_poll_loops(sender=None, **kwargs):
    # Warm shutdown waits for running tasks, and a poll loop would run to the end of its tenure: tell this
    # worker's loops (its prefork children, whose parent is this process) to release their leases now.
    from drivers.runtime import shutdown_key
    from scada.redis import get_redis

    try:
        get_redis().set(shutdown_key(f"{sender}:{os.getpid()}"), "1", ex=120)
    except Exception:  # noqa: BLE001 - shutting down anyway; leases lapse on their own within seconds
        logging.getLogger(__name__).warning("Could not tell the poll loops to stop; their leases will lapse")
