"""The Celery app. Queues: `drivers` (PLC polling and writes) and `default` (everything else)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")

app = Celery("kiln")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_between_tasks(task=None, **kwargs):
    # Between tasks a connection goes back to the pool (or is dropped when broken or older than CONN_MAX_AGE), as
    # at the end of a web request. Celery's own Django fixup would instead close every connection and, with the
    # pool on in a prefork child, the whole pool, before and after every task: each historian writer run and
    # alarm tick then opened new PostgreSQL sessions (~4 a second; issue 18). CELERY_DB_REUSE_MAX (settings)
    # makes the fixup do that only every few thousand tasks; it still closes an inherited pool when a child starts.
    if task is not None and getattr(task.request, "is_eager", False):
        return  # run inline by its caller (CELERY_TASK_ALWAYS_EAGER, tests): the caller's connection, its transaction
    from django.db import close_old_connections

    close_old_connections()
