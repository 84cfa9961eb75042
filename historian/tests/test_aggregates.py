"""Aggregates against the plain-Python reference (historian/tests/reference.py) on random data (hypothesis).

The PostgreSQL path is checked with rollups in every state: none computed, all computed, and computed with
late samples added afterwards (so a query mixes 1-hour, 1-minute and raw pieces around a pending range), and
with the samples as rows or compacted into chunks (historian.chunks): both layouts must give the same answers.
"""

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from django.db import connection
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from historian.compaction import historian_compact
from historian.rollups import rollups_refresh
from historian.selectors import aggregate_python, history_query, plan_segments
from historian.tests.conftest import db_dt
from historian.tests.reference import reference

T0 = 1775001600  # 2026-04-01T00:00:00Z
MODES = ["average", "min", "max", "first", "last", "count", "sum", "range"]
INTERVALS = [45, 60, 90, 120, 600, 3600, 3600, 7200, 7200]

# Times: anywhere in [-1 h, 3 h), on a 30-s grid (samples on bucket edges), a 64th of a second either side of an
# hour, or crowded into the ten minutes around 01:00 and 02:00 (several samples per 1-minute rollup, on both
# sides of an hour, so pieces of every tier meet inside one query bucket). Sub-second times are multiples of
# 1/64 s (15,625 µs): exact as float epoch seconds and as stored microseconds alike, so the reference, the SQL
# path (float epochs) and the packed raw path (integer microseconds) see the very same instants and the
# comparison tests the semantics, not the rounding of T0 + 0.001.
TICK = 1 / 64
moment = st.one_of(
    st.integers(min_value=-3600 * 64, max_value=3 * 3600 * 64).map(lambda n: T0 + n * TICK),
    st.integers(min_value=-120, max_value=360).map(lambda n: T0 + 30 * n),
    st.tuples(st.integers(min_value=-1, max_value=3), st.sampled_from([-TICK, 0, TICK])).map(
        lambda hd: T0 + hd[0] * 3600 + hd[1]),
    st.tuples(st.sampled_from([3600, 7200]), st.integers(min_value=-150 * 64, max_value=150 * 64)).map(
        lambda c: T0 + c[0] + c[1] * TICK),
)
sample = st.tuples(
    moment,
    st.integers(min_value=-5000, max_value=5000).map(lambda x: x / 8),  # exact in binary: no rounding noise
    st.sampled_from(["GOOD", "GOOD", "GOOD", "UNCERTAIN", "BAD"]),
)
samples_st = st.lists(sample, min_size=1, max_size=40, unique_by=lambda s: s[0]).map(sorted)
edge = st.integers(min_value=-1800, max_value=3 * 3600).map(lambda s: T0 + s)
aligned_edge = st.integers(min_value=-1, max_value=4).map(lambda h: T0 + h * 3600)


def _close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _as_reference(samples):
    return [(t, v, q != "BAD") for t, v, q in samples]


def _check(got, want, mode=""):
    assert [p[0] for p in got] == [p[0] for p in want]
    for (ts, g), (_, w) in zip(got, want, strict=True):
        assert _close(g, w), f"{mode} bucket {ts}: got {g}, reference {w}"


@settings(max_examples=400, deadline=None, database=None)
@given(samples=samples_st, a=edge, b=edge, interval=st.sampled_from(INTERVALS), mode=st.sampled_from(MODES),
       now_offset=st.integers(min_value=0, max_value=8 * 3600))
def test_it_matches_the_reference_in_python(samples, a, b, interval, mode, now_offset):
    start, end = min(a, b), max(a, b) + 1
    now = T0 + now_offset
    rows = _as_reference(samples)
    end_eff = min(end, now)
    want = reference(rows, start, end, now, interval, mode)
    if end_eff <= start:
        assert want == []
        return
    before = [s for s in rows if s[0] < start]
    inside = [s for s in rows if start <= s[0] < end_eff]
    got_rows = aggregate_python(inside, before[-1] if before else None, start, end_eff, interval, mode)
    k0, kmax = math.floor(start / interval), math.ceil(end_eff / interval) - 1
    from historian.selectors.buckets import _empty_value

    got, fill = [], got_rows.get(k0 - 1, (None, None))[1]
    for k in range(k0, kmax + 1):
        if k in got_rows:
            v, fill = got_rows[k]
        else:
            v = _empty_value(mode, fill)
        got.append((k * interval, v))
    _check(got, want)


def _load(tag_id, samples):
    from historian.constants import quality_code
    from historian.partitions import partitions_ensure_for_times

    if not samples:
        return
    partitions_ensure_for_times([s[0] for s in samples])
    with connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO historian_sample (ts, value, tag_id, quality) VALUES (%s, %s, %s, %s)",
            [(db_dt(t), None if q == "BAD" and int(t) % 2 else v, tag_id,
              quality_code(q, None)) for t, v, q in samples],
        )
        cur.execute("INSERT INTO historian_historiandirtyrange (ts_from, ts_to) VALUES (%s, %s)",
                    [db_dt(min(s[0] for s in samples)), db_dt(max(s[0] for s in samples))])


def _exact_times(samples):
    """The samples with the timestamps PostgreSQL stores (whole microseconds) as exact fractions of a second."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [(Fraction((datetime.fromtimestamp(t, tz=UTC) - epoch) // timedelta(microseconds=1), 1_000_000), v, q)
            for t, v, q in samples]


def _compact(minutes):
    """Every sample of the test's range (before T0 + 4 h) into chunks of `minutes`, as the compaction task does
    (two days later: the compaction horizon is floored to whole windows, a day for 1440). SQLite has no chunks."""
    if connection.vendor != "postgresql":
        return
    with override_settings(KILN_HISTORIAN_COMPACT_BATCH=minutes, KILN_HISTORIAN_COMPACT_AFTER_HOURS=2):
        run = historian_compact(now=datetime.fromtimestamp(T0 + 48 * 3600, tz=UTC), budget_seconds=600)
    assert not run.busy and not run.out_of_budget
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM historian_sample WHERE ts < %s", [db_dt(T0 + 4 * 3600)])
        assert cur.fetchone()[0] == 0


def _reset(tag_id):
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("DELETE FROM historian_chunk WHERE tag_id = %s", [tag_id])
        for table in ("historian_sample", "historian_rollup_1m", "historian_rollup_1h"):
            cur.execute(f"DELETE FROM {table} WHERE tag_id = %s", [tag_id])
        cur.execute("DELETE FROM historian_historiandirtyrange")


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(samples=samples_st, late=st.lists(sample, max_size=10, unique_by=lambda s: s[0]).map(sorted),
       a=st.one_of(edge, aligned_edge), b=st.one_of(edge, aligned_edge), interval=st.sampled_from(INTERVALS),
       rollups=st.sampled_from(["none", "all", "stale"]), compact_minutes=st.sampled_from([0, 0, 1, 7, 60, 1440]))
def test_it_matches_the_reference_on_postgresql(hist, samples, late, a, b, interval, rollups, compact_minutes):
    """...with the samples as rows or compacted into chunks of any span (compact_minutes; 0 = rows), and the late
    samples then added as rows inside the compacted range (a backfill), so chunks and rows meet in one query."""
    start, end = min(a, b), max(a, b) + (0 if a != b else 3600)
    late = [s for s in late if s[0] not in {x[0] for x in samples}]
    _reset(hist.id)
    _load(hist.id, samples)
    if rollups != "none":
        rollups_refresh(budget_seconds=60)
    if compact_minutes:
        _compact(compact_minutes)
    _load(hist.id, late)  # after the rollups: a pending dirty range the query must read from raw
    if rollups == "all":
        rollups_refresh(budget_seconds=60)
    now = T0 + 10 * 3600
    stored = sorted(samples + late)
    for mode in MODES:
        # A BAD sample's stored value does not matter (some are NULL above): the reference never uses it.
        want = reference(_as_reference(stored), start, end, now, interval, mode)
        got = history_query(tags=[hist], start=datetime.fromtimestamp(start, tz=UTC),
                            end=datetime.fromtimestamp(end, tz=UTC), mode=mode, interval=interval,
                            now=datetime.fromtimestamp(now, tz=UTC))[hist.id]
        _check([(datetime.fromisoformat(p["ts"]).timestamp(), p["v"]) for p in got], want, mode)


@pytest.mark.postgresql
@pytest.mark.django_db
@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(samples=samples_st, order=st.randoms(use_true_random=False), a=st.one_of(edge, aligned_edge),
       b=st.one_of(edge, aligned_edge), interval=st.sampled_from([*INTERVALS, 1, 7]),
       compact_minutes=st.sampled_from([0, 1, 60]))
def test_it_matches_the_reference_averaging_raw_samples_in_python(hist, monkeypatch, samples, order, a, b,
                                                                  interval, compact_minutes):
    """The packed-array path for all-raw time-weighted averages, forced on whatever the sample density, with
    samples stored in random physical order (a late backfill) so its re-sorting is exercised too, as rows or
    compacted into chunks (whose arrays then hold that order)."""
    from historian.selectors import packed, query

    monkeypatch.setattr(packed, "_RAW_AVERAGE_MIN_DENSITY", 0)
    taken = []
    real = query._raw_average_rows
    monkeypatch.setattr(query, "_raw_average_rows", lambda *a, **kw: taken.append(1) or real(*a, **kw))
    start, end = min(a, b), max(a, b) + (0 if a != b else 3600)
    _reset(hist.id)
    shuffled = list(samples)
    order.shuffle(shuffled)
    _load(hist.id, shuffled)
    with connection.cursor() as cur:  # a sequential scan returns the rows in the shuffled insertion order
        cur.execute("SET LOCAL enable_indexscan = off")
        cur.execute("SET LOCAL enable_bitmapscan = off")
    if compact_minutes:
        _compact(compact_minutes)
    now = T0 + 10 * 3600
    # This path integrates the stored microseconds exactly, so the reference gets them exactly too (moments on
    # the 1/64-s grid are exact anyway; this keeps the test honest if the grid ever gets finer).
    want = reference(_as_reference(_exact_times(samples)), start, end, now, interval, "average")
    got = history_query(tags=[hist], start=datetime.fromtimestamp(start, tz=UTC),
                        end=datetime.fromtimestamp(end, tz=UTC), mode="average", interval=interval,
                        now=datetime.fromtimestamp(now, tz=UTC), use_rollups=False)[hist.id]
    assert taken
    _check([(datetime.fromisoformat(p["ts"]).timestamp(), p["v"]) for p in got], want, "average")


def test_it_finds_samples_out_of_time_order_before_integrating_them():
    from array import array

    from historian.selectors.packed import _PG_EPOCH_US, _integrate

    def us(*seconds):  # epoch seconds → PostgreSQL's microseconds since 2000
        return array("q", [s * 1_000_000 - _PG_EPOCH_US for s in seconds])

    day = 1775001600
    span = (us(day)[0], us(day + 120)[0], float(day))
    ones = array("d", [1.0, 2.0, 3.0])
    assert _integrate(us(day + 5, day + 10, day + 20), ones, 60, span, 4.0) == [
        (day // 60, float(day), 4.0 * 5 + 1.0 * 5 + 2.0 * 10 + 3.0 * 40, 60.0, 3.0)]
    assert _integrate(us(day, day + 20, day + 10), ones, 60, span, None) is None
    assert _integrate(us(day + 70, day + 10), ones[:2], 60, span, None) is None  # across buckets
    assert _integrate(us(day + 10, day + 70, day + 20), ones, 60, span, None) is None


@pytest.mark.postgresql
def test_it_averages_dense_raw_samples_in_python_and_sparse_ones_in_sql(hist, monkeypatch):
    from historian.selectors import query

    results = []
    real = query._raw_average_rows
    monkeypatch.setattr(query, "_raw_average_rows", lambda *a, **kw: results.append(real(*a, **kw))
                        or results[-1])
    _reset(hist.id)
    stored = [(T0 + s, float(s % 7), "GOOD") for s in range(0, 3600, 10)]  # 360 samples, 1 per 10 s
    _load(hist.id, stored)
    query = {"tags": [hist], "start": datetime.fromtimestamp(T0, tz=UTC), "mode": "average",
             "end": datetime.fromtimestamp(T0 + 3600, tz=UTC), "use_rollups": False,
             "now": datetime.fromtimestamp(T0 + 7200, tz=UTC)}
    dense = history_query(**query, interval=600)[hist.id]  # 60 samples a bucket: Python
    sparse = history_query(**query, interval=15)[hist.id]  # < 1 a bucket: the SQL path answers
    assert results[0] is not None and results[1] is None
    for got, interval in ((dense, 600), (sparse, 15)):
        want = reference(_as_reference(_exact_times(stored)), T0, T0 + 3600, T0 + 7200, interval, "average")
        _check([(datetime.fromisoformat(p["ts"]).timestamp(), p["v"]) for p in got], want)


def test_it_reads_whole_hours_from_hourly_rollups_and_edges_finer():
    start, end = T0 + 30, T0 + 3 * 3600 + 90
    assert plan_segments(start, end, 3600, None) == [
        (0, T0 + 30, T0 + 60), (60, T0 + 60, T0 + 3600), (3600, T0 + 3600, T0 + 3 * 3600),
        (60, T0 + 3 * 3600, T0 + 3 * 3600 + 60), (0, T0 + 3 * 3600 + 60, T0 + 3 * 3600 + 90)]


def test_it_reads_raw_after_a_pending_rollup_range():
    assert plan_segments(T0, T0 + 7200, 60, T0 + 600.5) == [(60, T0, T0 + 600), (0, T0 + 600, T0 + 7200)]


def test_it_reads_raw_when_the_interval_is_no_multiple_of_a_tier():
    assert plan_segments(T0, T0 + 7200, 90, None) == [(0, T0, T0 + 7200)]
