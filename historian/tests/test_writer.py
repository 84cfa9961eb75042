"""The writer: COPY in one transaction, trim only after commit, never twice, never stalled by one bad entry."""

import time
from datetime import UTC, datetime

import psycopg
import pytest
import redis
from django.db import connection

from historian import writer, writer_store
from historian.buffer import buffer_append_rows
from historian.compaction import historian_compact
from historian.constants import BUFFER_COUNT, BUFFER_DROPPED, BUFFER_STREAM, COMPACT_LOCK_KEY, WRITER_LEASE_KEY
from historian.models import HistorianDirtyRange, HistorianSample, HistorianStringSample, HistorianWriterCheckpoint
from historian.partitions import partitions_ensure_for_times, partitions_list
from historian.selectors import HistoryTag, history_query
from historian.writer import DEAD_LETTER_STREAM, encode_copy_binary, historian_writer_run
from scada.redis import get_redis
from tags.values import Sample, tag_values_record


def _stored(tag_id):
    rows = HistorianSample.objects.filter(tag_id=tag_id).order_by("ts").values_list("ts", "value", "quality")
    return [(ts.timestamp(), value, quality) for ts, value, quality in rows]


def _append(tag_id, rows):
    buffer_append_rows([r[0] for r in rows], [tag_id] * len(rows), [r[1] for r in rows], [0] * len(rows))


def test_it_writes_what_the_values_service_recorded(real_tag):
    now = time.time()
    for i in range(5):
        tag_values_record(samples=[Sample(real_tag.pk, 70.0 + i, ts=now - 5 + i)])
    run = historian_writer_run()
    assert (run.error, run.flushes, run.samples, run.written) == (None, 1, 5, 5)
    assert [v for _, v, _ in _stored(real_tag.pk)] == [70.0, 71.0, 72.0, 73.0, 74.0]


def test_it_trims_the_stream_and_moves_the_checkpoint_after_commit(real_tag):
    now = time.time()
    _append(real_tag.pk, [(now, 1.0), (now + 1, 2.0)])
    _append(real_tag.pk, [(now + 2, 3.0)])
    last_id = get_redis().xrange(BUFFER_STREAM)[-1][0].decode()
    historian_writer_run()
    r = get_redis()
    assert r.xlen(BUFFER_STREAM) == 0
    assert int(r.get(BUFFER_COUNT)) == 0
    assert HistorianWriterCheckpoint.objects.get().last_id == last_id
    # On PostgreSQL the rollups learn what to recompute in the same commit; SQLite (the demo) has no rollups.
    assert HistorianDirtyRange.objects.count() == (1 if connection.vendor == "postgresql" else 0)


@pytest.mark.postgresql
def test_it_keeps_the_entries_when_the_database_fails(real_tag, monkeypatch):
    _append(real_tag.pk, [(time.time(), 1.0)])

    def down(cur, ids):
        raise psycopg.errors.DiskFull("could not extend file: No space left on device")

    monkeypatch.setattr(writer_store, "_tag_kinds", down)
    run = historian_writer_run()
    assert run.error.startswith("DiskFull")
    assert get_redis().xlen(BUFFER_STREAM) == 1 and int(get_redis().get(BUFFER_COUNT)) == 1
    assert _stored(real_tag.pk) == []
    assert get_redis().hget("kiln:hist:writer:stats", "last_error").startswith(b"DiskFull")


def test_it_never_writes_twice_after_dying_between_commit_and_trim(real_tag, monkeypatch):
    now = time.time()
    _append(real_tag.pk, [(now, 1.0), (now + 1, 2.0)])
    real_trim = writer._trim

    def redis_gone(r, last_id):
        raise redis.ConnectionError("Redis went away after COMMIT")

    monkeypatch.setattr(writer, "_trim", redis_gone)
    assert historian_writer_run().error.startswith("ConnectionError")
    assert len(_stored(real_tag.pk)) == 2 and get_redis().xlen(BUFFER_STREAM) == 1  # committed, not trimmed
    monkeypatch.setattr(writer, "_trim", real_trim)
    _append(real_tag.pk, [(now + 2, 3.0)])
    run = historian_writer_run(keep_results=True)
    assert run.results[0].skipped_committed == 2
    assert [v for _, v, _ in _stored(real_tag.pk)] == [1.0, 2.0, 3.0]
    assert get_redis().xlen(BUFFER_STREAM) == 0 and int(get_redis().get(BUFFER_COUNT)) == 0


@pytest.mark.postgresql
def test_it_refuses_a_replayed_sample_even_without_the_checkpoint(real_tag):
    now = time.time()
    _append(real_tag.pk, [(now, 1.0), (now + 1, 2.0)])
    historian_writer_run()
    HistorianWriterCheckpoint.objects.all().delete()
    _append(real_tag.pk, [(now + 1, 2.0), (now + 2, 3.0)])  # one old, one new
    run = historian_writer_run(keep_results=True)
    assert run.results[0].slow_path and run.written == 1
    assert [v for _, v, _ in _stored(real_tag.pk)] == [1.0, 2.0, 3.0]


@pytest.mark.postgresql
def test_it_checks_late_samples_against_compacted_chunks(real_tag):
    old = time.time() - 10 * 86400
    _append(real_tag.pk, [(old, 1.0), (old + 1, 2.0)])
    historian_writer_run()
    assert historian_compact().values == 2
    assert _stored(real_tag.pk) == []  # no rows left: both samples are in a chunk now
    _append(real_tag.pk, [(old + 1, 2.0), (old + 2, 3.0), (old + 2, 3.0)])  # a repeat, a new one twice
    HistorianWriterCheckpoint.objects.all().delete()
    assert historian_writer_run().written == 1
    assert [v for _, v, _ in _stored(real_tag.pk)] == [3.0]
    tag = HistoryTag(real_tag.pk, real_tag.name, "REAL")
    got = history_query(tags=[tag], start=datetime.fromtimestamp(old - 1, tz=UTC),
                        end=datetime.fromtimestamp(old + 3, tz=UTC), mode="raw", interval=None)[real_tag.pk]
    assert [p["v"] for p in got] == [1.0, 2.0, 3.0]


@pytest.mark.postgresql
def test_it_copies_late_samples_that_no_chunk_can_hold(real_tag):
    """A replay after an outage: older than half the compaction age, but no chunk covers their time range and no
    compaction runs, so they go by COPY (a duplicate would still meet the unique index)."""
    old = time.time() - 5 * 3600
    _append(real_tag.pk, [(old, 1.0), (old + 1, 2.0)])
    run = historian_writer_run(keep_results=True)
    assert (run.results[0].slow_path, run.written) == (False, 2)


@pytest.mark.postgresql
def test_late_samples_take_the_slow_path_while_a_compaction_runs(real_tag):
    """A compaction could turn rows of their range into a chunk before the COPY commits: check rows and chunks."""
    old = time.time() - 5 * 3600
    _append(real_tag.pk, [(old, 1.0), (old + 1, 2.0)])
    s = connection.settings_dict
    compactor = psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, dbname=s["NAME"], user=s["USER"])
    try:
        compactor.execute("SELECT pg_advisory_lock(%s)", [COMPACT_LOCK_KEY])
        run = historian_writer_run(keep_results=True)
    finally:
        compactor.close()
    assert (run.results[0].slow_path, run.written) == (True, 2)


@pytest.mark.postgresql
def test_it_creates_a_missing_partition_for_a_backfill(real_tag):
    long_ago = datetime(2025, 6, 1, 12, tzinfo=UTC).timestamp()
    _append(real_tag.pk, [(long_ago, 5.0)])
    assert historian_writer_run().written == 1
    assert any(p.name == "historian_sample_p20250601_20250602" for p in partitions_list())


@pytest.mark.postgresql
def test_a_partition_dropped_behind_the_writer_s_cache_is_recreated_within_the_same_run(real_tag):
    now = time.time()
    _append(real_tag.pk, [(now, 1.0)])
    assert historian_writer_run().written == 1  # the cache now lists today's partition
    name = next(p.name for p in partitions_list() if p.start.timestamp() <= now < p.end.timestamp())
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE {name}")  # as a restore or another process's rolled-back DDL would leave it
    assert writer_store.coverage.missing([now + 1]) == []  # the cache still believes in it
    _append(real_tag.pk, [(now + 1, 2.0)])
    run = historian_writer_run()
    assert (run.error, run.written) == (None, 1)
    assert [v for _, v, _ in _stored(real_tag.pk)] == [2.0]  # the first row went with the dropped partition
    assert get_redis().xlen(BUFFER_STREAM) == 0


def test_it_drops_samples_older_than_the_retention(real_tag, settings):
    settings.KILN_HISTORIAN_RETENTION_DAYS = 30
    _append(real_tag.pk, [(time.time() - 40 * 86400, 5.0), (time.time(), 6.0)])
    run = historian_writer_run(keep_results=True)
    assert (run.results[0].expired, run.written) == (1, 1)


def test_it_drops_samples_of_tags_that_no_longer_exist(real_tag):
    _append(987654, [(time.time(), 5.0)])
    _append(real_tag.pk, [(time.time(), 6.0)])
    run = historian_writer_run(keep_results=True)
    assert (run.results[0].unknown_tag, run.written) == (1, 1)
    assert get_redis().xlen(BUFFER_STREAM) == 0


def test_it_keeps_string_values_in_their_own_table(make_tag):
    batch = make_tag("Batch_Id", datatype="STRING")
    now = time.time()
    tag_values_record(samples=[Sample(batch.pk, "B-1001", ts=now), Sample(batch.pk, "B-1002", ts=now + 1)])
    assert historian_writer_run().written == 2
    assert list(HistorianStringSample.objects.order_by("ts").values_list("value", flat=True)) == ["B-1001", "B-1002"]
    assert _stored(batch.pk) == []


@pytest.mark.postgresql
def test_it_moves_an_unwritable_entry_aside_and_writes_the_rest_in_order(real_tag, make_tag):
    huge = make_tag("Huge_Id", id=2**40)  # a tag id beyond the sample table's integer column
    now = time.time()
    _append(real_tag.pk, [(now, 1.0)])
    buffer_append_rows([now + 1], [huge.pk], [2.0], [0])
    _append(real_tag.pk, [(now + 2, 3.0)])
    run = historian_writer_run()
    assert run.error is None
    assert [v for _, v, _ in _stored(real_tag.pk)] == [1.0, 3.0]
    r = get_redis()
    assert r.xlen(DEAD_LETTER_STREAM) == 1 and r.xlen(BUFFER_STREAM) == 0
    assert r.hget(BUFFER_DROPPED, "samples") == b"1"  # counted, and audited by historian_drops_audit


@pytest.mark.postgresql
def test_it_takes_turns_with_another_writer(real_tag):
    _append(real_tag.pk, [(time.time(), 1.0)])
    other = psycopg.connect(_dsn(), autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [WRITER_LEASE_KEY])
        assert historian_writer_run().lease is False
    finally:
        other.close()  # a writer that dies releases the lease with its connection
    for _ in range(50):  # the server ends the closed session asynchronously
        run = historian_writer_run()
        if run.lease:
            break
        time.sleep(0.05)
    assert run.written == 1


def _dsn():
    s = connection.settings_dict
    return f"host={s['HOST']} port={s['PORT'] or 5432} dbname={s['NAME']} user={s['USER']}"


def test_it_encodes_binary_copy_rows_with_nulls():
    data = encode_copy_binary([(946684800.000001, 1.5, 7, 0), (946684800.0, None, 7, 201)])
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00") and data.endswith(b"\xff\xff")
    assert len(data) == 19 + 40 + 32 + 2


@pytest.mark.parametrize("batch", [100, 1000])
def test_it_splits_a_large_buffer_into_transactions_of_the_configured_size(real_tag, settings, batch):
    settings.KILN_HISTORIAN_WRITER_BATCH = batch
    now = time.time()
    for i in range(30):
        _append(real_tag.pk, [(now + i * 100 + j, float(j)) for j in range(100)])
    run = historian_writer_run()
    assert run.written == 3000 and run.flushes == 3000 // batch
    partitions_ensure_for_times([now])


def test_it_writes_samples_without_a_value_as_null(real_tag):
    now = time.time()
    buffer_append_rows([now, now + 1, now + 2], [real_tag.pk] * 3, [1.5, None, 2], [0, 201, 0])
    assert historian_writer_run().written == 3
    assert [(v, q) for _, v, q in _stored(real_tag.pk)] == [(1.5, 0), (None, 201), (2.0, 0)]



@pytest.fixture
def tight_statement_timeout(hist_clean):
    """Every new connection gets a 100 ms statement timeout (DB_STATEMENT_TIMEOUT_MS at its tightest)."""
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("options")
    options["options"] = "-c statement_timeout=100"
    connection.close()
    yield
    connection.close()
    if saved is None:
        options.pop("options")
    else:
        options["options"] = saved


@pytest.mark.postgresql
def test_it_commits_a_copy_that_outlasts_the_web_statement_timeout(real_tag, tight_statement_timeout):
    # COPY of 300,000 samples takes well over 100 ms: only the writer's own timeout
    # (KILN_HISTORIAN_STATEMENT_TIMEOUT_MS) lets it through.
    now = time.time() - 1000
    for chunk in range(30):
        _append(real_tag.pk, [(now + (chunk * 10_000 + i) / 1000, float(i)) for i in range(10_000)])
    run = historian_writer_run(max_samples=300_000)
    assert run.error is None and run.written == 300_000
