"""Periodic audit work: a signed checkpoint of the chain head (scheduled by CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from accounts.audit_integrity import audit_checkpoint_create


@shared_task(name="accounts.tasks.audit_checkpoint_task", acks_late=True, time_limit=60, ignore_result=True)
def audit_checkpoint_task() -> None:
    # Idempotent: a head already checkpointed is not stored again (the export file is rewritten identically).
    audit_checkpoint_create()
