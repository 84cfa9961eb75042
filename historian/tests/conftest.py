"""Fixtures for the historian: tags of each datatype, a helper to load samples, cleanup of partitioned tables.

The partitioned tables are not Django-managed, so a transactional test (one whose data other processes must
see) empties them itself through `hist_clean`.
"""

import time
from datetime import UTC, datetime

import pytest
from django.db import connection

from historian.constants import quality_code
from historian.selectors import HistoryTag
from tags.models import Machine, Tag


@pytest.fixture
def machine(db):
    return Machine.objects.create(machine_id="reactor-1", name="Reactor 1")


@pytest.fixture
def make_tag(machine):
    def make(name, datatype="REAL", **kw):
        return Tag.objects.create(machine=machine, name=name, datatype=datatype, **kw)

    return make


@pytest.fixture
def real_tag(make_tag):
    return make_tag("Reactor_Temp", unit="°C")


@pytest.fixture
def hist(real_tag):
    return HistoryTag(id=real_tag.pk, name=real_tag.name, datatype=real_tag.datatype)


def to_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def db_dt(ts: float):
    """An epoch time as a raw-SQL parameter the way the ORM stores it (on SQLite: naive UTC text, as the writer's
    rows; sqlite3's own adapter would add '+00:00' and make a second spelling of the same instant)."""
    return connection.ops.adapt_datetimefield_value(to_dt(ts))


@pytest.fixture
def load_samples():
    """load_samples(tag_id, [(ts, value, quality, substatus?)...]) → straight into the tables (test setup only)."""
    from historian.partitions import partitions_ensure_for_times

    def load(tag_id, rows):
        partitions_ensure_for_times([r[0] for r in rows])
        with connection.cursor() as cur:
            cur.executemany(
                "INSERT INTO historian_sample (ts, value, tag_id, quality) VALUES (%s, %s, %s, %s)",
                [(db_dt(r[0]), r[1], tag_id, quality_code(r[2] if len(r) > 2 else "GOOD", r[3] if len(r) > 3 else None))
                 for r in rows],
            )
            if rows:
                cur.execute("INSERT INTO historian_historiandirtyrange (ts_from, ts_to) VALUES (%s, %s)",
                            [db_dt(min(r[0] for r in rows)), db_dt(max(r[0] for r in rows))])

    return load


def _truncate():
    with connection.cursor() as cur:
        cur.execute("TRUNCATE historian_sample, historian_rollup_1m, historian_chunk")
        cur.execute("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent IN ('historian_sample'::regclass, 'historian_rollup_1m'::regclass)""")
        for (name,) in cur.fetchall():
            cur.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def hist_clean(transactional_db):
    """For transactional tests: empty the partitioned tables (and drop their partitions) before and after."""
    from historian import writer

    _truncate()
    writer._coverage.forget()
    yield
    connection.close()  # a test may have left the connection broken (outage tests)
    _truncate()
    writer._coverage.forget()


@pytest.fixture
def now():
    return time.time()
