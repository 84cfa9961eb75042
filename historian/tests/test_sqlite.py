"""The historian's SQLite branches (make run's demo database), run by the SQLite pass of scripts/test.sh.

PostgreSQL has its own tests for the same behaviours (COPY, advisory locks, partitions, rollups); these are the
ones where SQLite takes another code path. Tests without a marker run on both backends.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection

from accounts.models import AuditRecord
from historian import writer_store
from historian.buffer import buffer_append_rows
from historian.constants import BUFFER_COUNT, BUFFER_STREAM, WRITER_LEASE
from historian.models import HistorianSample, HistorianStringSample, HistorianWriterCheckpoint
from historian.partitions import partitions_ensure_for_times, partitions_maintain
from historian.rollups import rollups_refresh
from historian.selectors import history_query
from historian.services import historian_orphans_delete, historian_retention_apply
from historian.writer import DEAD_LETTER_STREAM, historian_writer_run
from scada.redis import get_redis

T0 = 1775001600  # 2026-04-01T00:00:00Z

sqlite = pytest.mark.sqlite


def _values(tag_id):
    return list(HistorianSample.objects.filter(tag_id=tag_id).order_by("ts").values_list("value", flat=True))


def _append(tag_id, rows):
    buffer_append_rows([r[0] for r in rows], [tag_id] * len(rows), [r[1] for r in rows], [0] * len(rows))


@sqlite
def test_it_counts_only_new_rows_when_a_replay_reaches_sqlite(real_tag):
    now = time.time()
    _append(real_tag.pk, [(now, 1.0), (now + 1, 2.0)])
    historian_writer_run()
    HistorianWriterCheckpoint.objects.all().delete()
    _append(real_tag.pk, [(now + 1, 2.0), (now + 2, 3.0)])  # one already stored, one new
    assert historian_writer_run().written == 1
    assert _values(real_tag.pk) == [1.0, 2.0, 3.0]


@sqlite
def test_it_stores_times_the_way_orm_queries_find_them(real_tag):
    _append(real_tag.pk, [(T0, 1.0), (T0 + 0.5, 2.0)])
    historian_writer_run()
    at = HistorianSample.objects.filter(tag_id=real_tag.pk, ts=datetime.fromtimestamp(T0, tz=UTC))
    assert list(at.values_list("value", flat=True)) == [1.0]


@sqlite
def test_it_takes_turns_with_another_writer_through_the_redis_lease(real_tag):
    _append(real_tag.pk, [(time.time(), 1.0)])
    r = get_redis()
    r.set(WRITER_LEASE, "another-writer", ex=60)
    assert historian_writer_run().lease is False
    assert _values(real_tag.pk) == []
    r.delete(WRITER_LEASE)  # that writer finished (or its lease expired)
    run = historian_writer_run()
    assert (run.lease, run.written) == (True, 1)
    assert r.get(WRITER_LEASE) is None  # released after the run


@sqlite
def test_it_keeps_the_entries_when_sqlite_is_locked(real_tag, monkeypatch):
    _append(real_tag.pk, [(time.time(), 1.0)])

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(writer_store, "commit_other", locked)
    run = historian_writer_run()
    assert run.error == "OperationalError: database is locked"
    assert get_redis().xlen(BUFFER_STREAM) == 1 and int(get_redis().get(BUFFER_COUNT)) == 1


def test_it_moves_an_undecodable_entry_aside_and_writes_the_rest_in_order(real_tag):
    now = time.time()
    r = get_redis()
    _append(real_tag.pk, [(now, 1.0)])
    r.xadd(BUFFER_STREAM, {"n": 1, "d": b"\x00 not a batch"})
    r.incr(BUFFER_COUNT)
    _append(real_tag.pk, [(now + 2, 3.0)])
    run = historian_writer_run()
    assert run.error is None
    assert _values(real_tag.pk) == [1.0, 3.0]
    assert r.xlen(DEAD_LETTER_STREAM) == 1 and r.xlen(BUFFER_STREAM) == 0


@sqlite
def test_it_deletes_raw_samples_older_than_the_retention_on_sqlite_and_audits_it(real_tag, load_samples, settings):
    settings.KILN_HISTORIAN_RETENTION_DAYS = 30
    now = datetime.now(tz=UTC)
    load_samples(real_tag.pk, [((now - timedelta(days=40)).timestamp(), 1.0),
                               ((now - timedelta(days=2)).timestamp(), 2.0)])
    assert historian_retention_apply(now=now)["raw"] == 1
    assert _values(real_tag.pk) == [2.0]
    record = AuditRecord.objects.get(action="historian.retention_delete", object_id="historian_sample")
    assert record.old_value["samples"] == 1


@sqlite
def test_it_sweeps_the_history_of_tags_deleted_behind_its_back_on_sqlite(real_tag, make_tag, load_samples):
    gone = make_tag("Gone_Tag")
    load_samples(real_tag.pk, [(T0, 1.0)])
    load_samples(gone.pk, [(T0, 1.0), (T0 + 1, 2.0)])
    HistorianStringSample.objects.create(tag_id=gone.pk, ts=datetime.fromtimestamp(T0, tz=UTC), value="x")
    gone_id = gone.pk
    gone.delete()  # not through tags.services: no hook ran
    assert historian_orphans_delete() == {gone_id: 3}
    assert _values(real_tag.pk) == [1.0] and not HistorianStringSample.objects.exists()


@sqlite
def test_it_leaves_partitions_to_postgresql(db, settings):
    settings.KILN_HISTORIAN_RETENTION_DAYS = 30
    assert partitions_ensure_for_times([T0]) == []
    assert partitions_maintain() == {"created": [], "dropped": [], "errors": []}
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE name LIKE 'historian_sample%'")
        assert [row[0] for row in cur.fetchall()] == ["historian_sample"]


@sqlite
def test_it_answers_aggregates_from_raw_samples_without_rollups(hist, load_samples):
    load_samples(hist.id, [(T0, 10.0), (T0 + 1800, 20.0), (T0 + 3600, 30.0)])
    run = rollups_refresh(budget_seconds=5)
    assert (run.chunks, run.minute_rows, run.hour_rows) == (0, 0, 0)
    got = history_query(tags=[hist], start=datetime.fromtimestamp(T0, tz=UTC),
                        end=datetime.fromtimestamp(T0 + 7200, tz=UTC), mode="average", interval=3600,
                        now=datetime.fromtimestamp(T0 + 86400, tz=UTC))[hist.id]
    assert [p["v"] for p in got] == [15.0, 30.0]
