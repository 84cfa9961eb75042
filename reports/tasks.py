"""Report tasks: generate one run (the `reports` queue, whose worker runs niced so the web process keeps the
CPU), and the daily purge of files past their retention. Thin: ids in, a service does the work."""

from celery import shared_task
from django.conf import settings

from reports.pacing import database_paced
from reports.schedules import schedules_run_due
from reports.services import report_run_execute, report_runs_purge

__all__ = ["report_generate_task", "report_purge_task", "report_schedules_task"]


@shared_task(name="reports.tasks.report_generate_task", queue="reports", acks_late=True, ignore_result=True,
             time_limit=settings.KILN_REPORTS_TASK_TIME_LIMIT)
def report_generate_task(run_id: int) -> None:
    # Idempotent: the service claims the run queued → running once; a redelivery finds it claimed and returns.
    with database_paced():  # the worker's queries leave PostgreSQL to the API (reports/pacing.py)
        report_run_execute(run_id=run_id)


@shared_task(name="reports.tasks.report_purge_task", acks_late=True, ignore_result=True, time_limit=600)
def report_purge_task() -> None:
    report_runs_purge()


@shared_task(name="reports.tasks.report_schedules_task", acks_late=True, ignore_result=True, time_limit=60)
def report_schedules_task() -> None:
    # Idempotent: each due schedule is claimed by a conditional UPDATE of its next run time.
    schedules_run_due()
