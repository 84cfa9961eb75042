"""The Celery app. Queues: `drivers` (PLC polling and writes) and `default` (everything else)."""

import contextlib
import os
from pathlib import Path

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init

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


@worker_init.connect
def _nice_for_the_whole_session(**kwargs):
    # A worker started niced (the reports worker: the Procfile's `nice -n 10`, the systemd unit's Nice=10) leads a
    # session of its own, and Linux schedules each session as one group (autogroup, on by default): a process's
    # nice only ranks it inside its group, so against the web process, in another session, it did nothing and a
    # report's CPU delayed API requests. The group gets the process's nice. (Under a systemd CPU controller the
    # unit's CPUWeight= does this.) Only a session leader does it: a worker started inside another program's
    # session (a test, a bench) would nice that program too.
    nice = os.nice(0)
    if nice > 0 and os.getsid(0) == os.getpid():
        with contextlib.suppress(OSError):  # no autogroup (kernel option off, not Linux): nothing to do
            Path("/proc/self/autogroup").write_text(f"{nice}\n")
