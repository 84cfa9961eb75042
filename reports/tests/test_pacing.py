"""The reports worker's PostgreSQL work, paced (reports/pacing.py): a yield after each statement in proportion to
its time, and the backend serving the worker reniced when PostgreSQL is on this host."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.db import connection, connections

from reports.pacing import backend_renice, database_paced

pytestmark = pytest.mark.django_db


def test_it_sleeps_after_a_statement_as_long_as_the_statement_took(settings):
    settings.KILN_REPORTS_DB_YIELD_PERCENT = 100
    settings.KILN_REPORTS_DB_NICE = 0
    start = time.monotonic()
    with database_paced() as pacer, connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.05)")
    assert 0.05 <= pacer.slept < 1.0
    assert time.monotonic() - start >= 0.1  # the statement, then as long again


def test_it_does_not_pace_when_the_yield_is_off(settings):
    settings.KILN_REPORTS_DB_YIELD_PERCENT = 0
    settings.KILN_REPORTS_DB_NICE = 0
    with database_paced() as pacer:
        assert pacer is None


def test_it_renices_the_local_backend_serving_the_worker_where_the_os_permits():
    conn = connections.create_connection("default")  # its own backend: the tests' connection keeps its priority
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        proc = Path(f"/proc/{pid}")  # absent when PostgreSQL runs elsewhere (another host, a container)
        local = proc.exists() and (proc / "cmdline").read_bytes().startswith(b"postgres")
        permitted = local and (os.getuid() == 0 or proc.stat().st_uid == os.getuid())
        assert backend_renice(10, conn) is permitted
        if permitted:
            assert os.getpriority(os.PRIO_PROCESS, pid) >= 10
    finally:
        conn.close()


def test_it_never_touches_a_process_when_postgresql_is_on_another_host():
    conn = connections.create_connection("default")
    conn.settings_dict = dict(conn.settings_dict, HOST="db.plant.example")
    try:
        assert backend_renice(10, conn) is False
        assert conn.connection is None  # decided before connecting: a remote pid means nothing here
    finally:
        conn.close()
