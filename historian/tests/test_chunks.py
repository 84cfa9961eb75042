"""Compaction into chunks (historian.chunks, historian.compaction): small at rest, the same answers, never a
sample lost or doubled (a compaction killed mid-statement, two compactors at once), deletes and retention reach
compacted samples. Aggregates on both layouts are compared with the reference in test_aggregates.py."""

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditRecord
from historian.buffer import buffer_status
from historian.compaction import historian_compact
from historian.constants import COMPACT_LOCK_KEY, quality_code
from historian.partitions import partitions_ensure_for_times
from historian.selectors import history_query
from historian.services import historian_retention_apply, history_delete_for_tag

pytestmark = pytest.mark.postgresql

DAY = datetime(2026, 4, 1, tzinfo=UTC)
NOW = DAY + timedelta(days=2)


def _fill(tags: list[int], seconds: int, start: datetime = DAY, step: int = 1):
    partitions_ensure_for_times([start.timestamp()])
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO historian_sample (ts, value, tag_id, quality)
               SELECT %s + (i * %s * interval '1 second'), 50 + 10 * sin(i / 600.0) + random(), t, 0
               FROM unnest(%s::int[]) t, generate_series(0, %s - 1) i""",
            [start, step, tags, seconds // step])


def _counts():
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM historian_sample), (SELECT coalesce(sum(n), 0) FROM historian_chunk)")
        return cur.fetchone()


def _raw(hist, start=DAY - timedelta(hours=1), end=NOW):
    return history_query(tags=[hist], start=start, end=end, mode="raw", interval=None)[hist.id]


def test_it_stores_a_compacted_sample_in_at_most_20_bytes(hist, settings):
    settings.KILN_HISTORY_MAX_POINTS = 10**6
    _fill([hist.id, hist.id + 1000, hist.id + 2000], 6 * 3600)
    before = _raw(hist)
    run = historian_compact(now=NOW)
    assert (run.values, run.windows, _counts()) == (3 * 6 * 3600, 6, (0, 3 * 6 * 3600))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_total_relation_size('historian_chunk')::float / %s", [run.values])
        per_value = cur.fetchone()[0]
    assert per_value <= 20, per_value
    assert _raw(hist) == before


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(
    st.integers(min_value=0, max_value=4 * 3600 * 1000),  # milliseconds into the day
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32),
              st.floats(allow_nan=False, allow_infinity=False)),
    st.sampled_from([("GOOD", None), ("UNCERTAIN", "manual"), ("BAD", "comm_failure"), ("BAD", None)])),
    min_size=1, max_size=60, unique_by=lambda r: r[0]),
    minutes=st.sampled_from([1, 13, 60, 1440]))
def test_raw_history_is_the_same_compacted_or_not(hist, rows, minutes):
    """Values of any float (float32-exact or not, huge, tiny, -0.0, NULL) and every quality come back as stored."""
    with connection.cursor() as cur:
        cur.execute("DELETE FROM historian_sample")
        cur.execute("DELETE FROM historian_chunk")
    partitions_ensure_for_times([DAY.timestamp()])
    with connection.cursor() as cur:
        cur.executemany("INSERT INTO historian_sample (ts, value, tag_id, quality) VALUES (%s, %s, %s, %s)",
                        [(DAY + timedelta(milliseconds=ms), v, hist.id, quality_code(*q)) for ms, v, q in rows])
    before = _raw(hist)
    with override_settings(KILN_HISTORIAN_COMPACT_BATCH=minutes):
        assert historian_compact(now=NOW).values == len(rows)
    after = _raw(hist)
    assert after == before
    # Same values bit for bit (-0.0 stays -0.0): compare the floats' representations too.
    assert [repr(p["v"]) for p in after] == [repr(p["v"]) for p in before]


def test_it_compacts_only_rows_older_than_the_compaction_age(hist, settings):
    settings.KILN_HISTORIAN_COMPACT_AFTER_HOURS = 2
    _fill([hist.id], 6 * 3600)
    run = historian_compact(now=DAY + timedelta(hours=5, minutes=30))  # horizon 03:30, floored to 03:00
    assert run.values == 3 * 3600 and _counts() == (3 * 3600, 3 * 3600)
    assert len(_raw(hist, DAY, DAY + timedelta(hours=6))) == 6 * 3600
    assert historian_compact(now=DAY + timedelta(hours=5, minutes=30)).values == 0  # idempotent


def test_it_leaves_everything_as_rows_when_compaction_is_off(hist, settings):
    settings.KILN_HISTORIAN_COMPACT_AFTER_HOURS = 0
    _fill([hist.id], 600)
    assert historian_compact(now=NOW).values == 0 and _counts() == (600, 0)


def test_a_second_compactor_stops_while_one_is_running(hist):
    _fill([hist.id], 600)
    other = psycopg.connect(_dsn(), autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [COMPACT_LOCK_KEY])
        run = historian_compact(now=NOW)
        assert (run.busy, run.values, _counts()) == (True, 0, (600, 0))
    finally:
        other.close()


def test_deleting_a_tag_deletes_its_compacted_history(hist):
    _fill([hist.id, hist.id + 1000], 600)
    historian_compact(now=NOW)
    assert history_delete_for_tag(hist.id) == 600
    assert _counts() == (0, 600)


def test_a_tag_retention_reaches_into_chunks_and_keeps_the_newer_part_of_a_straddling_one(hist, real_tag):
    from historian.models import TagHistorySetting

    _fill([hist.id], 2 * 3600)
    historian_compact(now=NOW)
    TagHistorySetting.objects.create(tag=real_tag, retention_days=1)
    horizon_now = DAY + timedelta(days=1, minutes=30)  # horizon: 00:30, inside the first hour's chunk
    result = historian_retention_apply(now=horizon_now)
    assert result["per_tag"] == {real_tag.name: 1800}
    got = _raw(hist)
    assert len(got) == 2 * 3600 - 1800 and got[0]["ts"] == "2026-04-01T00:30:00Z"
    assert AuditRecord.objects.filter(action="historian.retention_delete", object_id=real_tag.name).exists()


def test_a_run_is_audited_and_shown_in_the_status(hist):
    _fill([hist.id], 600)
    historian_compact(now=NOW)
    record = AuditRecord.objects.get(action="historian.compact")
    assert record.new_value["samples"] == 600 and record.new_value["windows"] == 1
    status = buffer_status()
    assert status["compaction_last_samples"] == 600 and status["compaction_samples_total"] >= 600
    assert status["compaction_last_error"] is None


def _dsn():
    s = connection.settings_dict
    return f"host={s['HOST']} port={s['PORT'] or 5432} dbname={s['NAME']} user={s['USER']}"


def test_a_closed_partition_is_packed_whole_and_truncated(hist):
    _fill([hist.id, hist.id + 1000], 3 * 3600)
    before = _raw(hist)
    run = historian_compact(now=NOW)
    assert (run.truncated, run.windows, _counts()) == (["historian_sample_p20260401_20260402"], 3, (0, 6 * 3600))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_relation_size('historian_sample_p20260401_20260402')")
        assert cur.fetchone()[0] == 0  # the space is back at once, no VACUUM needed
    assert _raw(hist) == before


def test_the_partition_still_being_written_is_compacted_window_by_window(hist):
    _fill([hist.id], 3 * 3600)
    run = historian_compact(now=DAY + timedelta(hours=4))  # horizon 02:00, inside the day's partition
    assert (run.truncated, run.windows, _counts()) == ([], 2, (3600, 2 * 3600))


def test_whole_clean_chunks_are_read_as_their_arrays_and_decode_to_the_stored_samples(hist):
    from historian.selectors.packed import _PG_EPOCH_US, _RAW_SERIES, _series

    _fill([hist.id], 2 * 3600)
    historian_compact(now=NOW)
    cur = psycopg.Cursor(connection.connection)
    cur.execute(_RAW_SERIES, {"ids": [hist.id], "a0": DAY, "b0": DAY + timedelta(hours=2)}, binary=True)
    rows = cur.fetchall()
    assert [whole for *_, whole in rows] == [True, True]  # one array_send per hour's chunk, nothing per sample
    ts, vs = _series(rows)[hist.id]
    raw = _raw(hist, DAY, DAY + timedelta(hours=2))
    assert [datetime.fromtimestamp((t + _PG_EPOCH_US) / 1e6, tz=UTC) for t in ts.tolist()] == [
        datetime.fromisoformat(p["ts"]) for p in raw]
    assert vs.tolist() == [p["v"] for p in raw]


@pytest.mark.django_db(transaction=True)
def test_a_closed_partition_in_use_is_compacted_window_by_window_instead(hist_clean, hist, monkeypatch):
    """A reader holding the partition keeps the truncation from its lock: after the lock timeout the partition
    is compacted by the per-window DELETE, which readers never block, and nothing is lost or doubled."""
    monkeypatch.setattr("historian.compaction.TRUNCATE_LOCK_TIMEOUT", "200ms")  # the 2 s default, shortened
    _fill([hist.id], 3600)
    reader = psycopg.connect(_dsn())
    try:
        reader.execute("SELECT count(*) FROM historian_sample_p20260401_20260402")
        run = historian_compact(now=NOW)
    finally:
        reader.rollback()
        reader.close()
    assert (run.truncated, run.values, _counts()) == ([], 3600, (0, 3600))
    assert len(_raw(hist)) == 3600
    # The emptied partition still has its pages: the next run, with nobody reading, truncates it.
    assert historian_compact(now=NOW).values == 0
    with connection.cursor() as cur:
        cur.execute("SELECT pg_relation_size('historian_sample_p20260401_20260402')")
        assert cur.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("now", "waiting"), [
    (DAY + timedelta(hours=3), "%DELETE FROM historian_sample%"),  # window by window, killed in its DELETE
    (NOW, "%LOCK TABLE historian_sample_p%"),  # a closed partition, killed after packing it, at its lock
])
def test_a_compaction_killed_mid_statement_loses_and_doubles_nothing(hist_clean, hist, now, waiting):
    """A row lock held elsewhere stops the compaction after it packed the samples into chunks (in its DELETE,
    or at the closed partition's lock); its backend is then terminated (what a killed worker or a crashed server
    does to the transaction). Every sample is still there exactly once, and the next run compacts them all."""
    _fill([hist.id, hist.id + 1000], 3600)
    locker = psycopg.connect(_dsn())
    watcher = psycopg.connect(_dsn(), autocommit=True)
    errors = []

    def compact():
        try:
            historian_compact(now=now)
        except Exception as exc:  # noqa: BLE001 - the terminated statement's error is what this test expects
            errors.append(exc)
        finally:
            connection.close()

    try:
        locker.execute("SELECT 1 FROM historian_sample WHERE tag_id = %s ORDER BY ts DESC LIMIT 1 FOR UPDATE",
                       [hist.id + 1000])
        worker = threading.Thread(target=compact)
        worker.start()
        pid = None
        for _ in range(200):
            # Its own autocommit connection: pg_stat_activity is a snapshot per transaction.
            row = watcher.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                  "AND query LIKE %s", [waiting]).fetchone()
            if row:
                pid = row[0]
                break
            time.sleep(0.02)
        assert pid, f"the compaction never reached the locked row ({errors})"
        watcher.execute("SELECT pg_terminate_backend(%s)", [pid])
        worker.join(30)
    finally:
        locker.rollback()
        locker.close()
        watcher.close()
    assert errors
    assert _counts() == (2 * 3600, 0)
    with connection.cursor() as cur:
        cur.execute("SELECT count(DISTINCT (tag_id, ts)) FROM historian_sample")
        assert cur.fetchone()[0] == 2 * 3600
    assert historian_compact(now=now).values == 2 * 3600
    assert _counts() == (0, 2 * 3600)
    assert len(_raw(hist)) == 3600


@settings(max_examples=300, deadline=None, database=None)
@given(moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                           timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                      timezone(-timedelta(hours=7))])))
def test_raw_points_spell_times_as_the_api_does(moment):
    """The raw path's fast time spelling equals scada.api.renderers.iso_utc for any instant and offset."""
    from historian.selectors.raw import _iso
    from scada.api.renderers import iso_utc

    assert _iso(moment) == iso_utc(moment)


@pytest.mark.django_db(transaction=True)
def test_an_aggregate_query_locks_only_the_partitions_its_range_reads(hist_clean, hist):
    """history_query's snapshot lock (against a compaction's TRUNCATE): a query of the second day waits for that
    day's partition and not for the first day's, held ACCESS EXCLUSIVE elsewhere as a truncation holds it."""
    from historian.partitions import partition_names

    _fill([hist.id], 3600, start=DAY)
    _fill([hist.id], 3600, start=DAY + timedelta(days=1))
    day2 = DAY + timedelta(days=1)
    assert partition_names(day2, day2 + timedelta(hours=1)) == ["historian_sample_p20260402_20260403"]
    assert partition_names(DAY + timedelta(hours=23), day2 + timedelta(seconds=1)) == [
        "historian_sample_p20260401_20260402", "historian_sample_p20260402_20260403"]
    query = {"tags": [hist], "start": day2, "end": day2 + timedelta(hours=1), "mode": "average", "interval": 600,
             "now": NOW, "use_rollups": False}
    # From the day before, which has no partition: the named one is missing, so the query locks them all.
    assert len(history_query(**{**query, "start": DAY - timedelta(hours=1)})[hist.id]) == 26 * 6
    holder = psycopg.connect(_dsn())
    try:
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = '300ms'")
        holder.execute("LOCK TABLE historian_sample_p20260401_20260402 IN ACCESS EXCLUSIVE MODE")
        assert len(history_query(**query)[hist.id]) == 6
        holder.rollback()
        holder.execute("LOCK TABLE historian_sample_p20260402_20260403 IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(Exception, match="lock timeout"):
            history_query(**query)
    finally:
        holder.rollback()
        holder.close()
        connection.close()


@pytest.mark.parametrize("datatype", ["REAL", "INT", "BOOL"])
def test_raw_json_from_columns_is_byte_for_byte_the_point_dicts_json(hist, datatype, settings):
    """The API's raw JSON, written from numpy columns (historian.selectors.raw_bulk), equals orjson's writing of
    the points the per-row path builds: fractions of a second, NULL values, qualities with a sub-status, a late
    sample out of storage order, on compacted chunks (whole and cut by the range) and hot rows alike."""
    import orjson

    from historian.selectors.raw import _numeric_postgresql, _point
    from historian.selectors.raw_bulk import RawSeries
    from scada.api.renderers import KilnJSONRenderer

    settings.KILN_HISTORY_MAX_POINTS = 10**6
    _fill([hist.id], 2 * 3600)
    with connection.cursor() as cur:
        cur.execute("UPDATE historian_sample SET value = round(value) WHERE %s <> 'REAL'", [datatype])
        cur.execute("UPDATE historian_sample SET value = NULL, quality = %s WHERE ts = %s",
                    [quality_code("BAD", "comm_failure"), DAY + timedelta(seconds=7)])
        cur.execute("UPDATE historian_sample SET ts = ts + interval '0.0405 s', quality = %s WHERE ts = %s",
                    [quality_code("UNCERTAIN", "last_usable"), DAY + timedelta(seconds=9)])
        cur.execute("UPDATE historian_sample SET value = 0 WHERE ts = %s", [DAY + timedelta(seconds=11)])
    historian_compact(now=NOW)
    _fill([hist.id], 60, start=DAY + timedelta(hours=3))  # hot rows after the chunks
    with connection.cursor() as cur:  # a late sample, stored after the later ones
        cur.execute("INSERT INTO historian_sample (ts, value, tag_id, quality) VALUES (%s, 1e15, %s, 0)",
                    [DAY + timedelta(hours=2, seconds=30), hist.id])
    tag = hist.__class__(id=hist.id, name=hist.name, datatype=datatype)
    a, b = DAY + timedelta(minutes=30, seconds=1), DAY + timedelta(hours=4)
    series = history_query(tags=[tag], start=a, end=b, mode="raw", interval=None, raw_series=True)[hist.id]
    assert isinstance(series, RawSeries)
    expected = [_point(ts, v, q, datatype) for _, ts, v, q in _numeric_postgresql([hist.id], a, b, 10**6)]
    assert len(expected) == 3600 + 1800 - 1 + 60 + 1
    assert list(series) == expected
    body = {"tag": hist.name, "data": series}
    assert KilnJSONRenderer().render(body) == orjson.dumps({"tag": hist.name, "data": expected})
