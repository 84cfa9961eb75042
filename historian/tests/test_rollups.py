"""Rollups: kept current from dirty ranges, exact against raw, and used by queries only where exact."""

import random
from datetime import UTC, datetime

import pytest
from django.db import connection

from historian.models import HistorianDirtyRange, HistorianRollup1h, HistorianRollup1m
from historian.rollups import rollups_refresh
from historian.selectors import history_query
from historian.tests.reference import reference

T0 = 1775001600  # 2026-04-01T00:00:00Z
MODES = ["average", "min", "max", "first", "last", "count", "sum", "range"]
NOW = datetime.fromtimestamp(T0 + 86400, tz=UTC)


@pytest.fixture
def dense(hist, load_samples):
    """3.5 hours of a noisy tag: a sample every 1–15 s, a few BAD stretches, some UNCERTAIN values."""
    rng = random.Random(20260401)
    rows, t = [], T0 - 1800 + 0.25
    while t < T0 + 3 * 3600:
        quality = rng.choices(["GOOD", "UNCERTAIN", "BAD"], weights=[90, 5, 5])[0]
        rows.append((round(t, 3), round(rng.uniform(-50, 150), 3), quality))
        t += rng.uniform(1, 15)
    load_samples(hist.id, rows)
    return [(ts, v, q != "BAD") for ts, v, q in rows]


def _query(hist, start, end, interval, mode):
    got = history_query(tags=[hist], start=datetime.fromtimestamp(start, tz=UTC),
                        end=datetime.fromtimestamp(end, tz=UTC), mode=mode, interval=interval, now=NOW)[hist.id]
    return [(datetime.fromisoformat(p["ts"]).timestamp(), p["v"]) for p in got]


def _assert_matches(got, want):
    assert [g[0] for g in got] == [w[0] for w in want]
    for (ts, g), (_, w) in zip(got, want, strict=True):
        assert (g is None and w is None) or g == pytest.approx(w, rel=1e-9, abs=1e-6), (ts, g, w)


@pytest.mark.postgresql
def test_it_consumes_dirty_ranges_and_writes_both_tiers(dense):
    run = rollups_refresh(budget_seconds=60, chunk_minutes=45)
    assert run.chunks == 5  # 3.5 h of dirty data in 45-minute transactions
    assert not HistorianDirtyRange.objects.exists()
    assert HistorianRollup1m.objects.count() == 210
    assert HistorianRollup1h.objects.count() == 4


@pytest.mark.postgresql
def test_it_makes_hourly_rollups_that_equal_the_raw_aggregates(hist, dense):
    rollups_refresh(budget_seconds=60)
    for hour in (T0, T0 + 3600, T0 + 7200):
        row = HistorianRollup1h.objects.get(tag_id=hist.id, bucket=datetime.fromtimestamp(hour, tz=UTC))
        inside = [s for s in dense if hour <= s[0] < hour + 3600]
        usable = [v for _, v, ok in inside if ok]
        assert row.value_count == len(usable)
        assert row.value_sum == pytest.approx(sum(usable))
        assert (row.value_min, row.value_max) == (min(usable), max(usable))
        assert (row.value_first, row.value_last) == (usable[0], usable[-1])
        assert (row.head_ts, row.tail_ts) == (pytest.approx(inside[0][0]), pytest.approx(inside[-1][0]))
        assert row.tail_good is inside[-1][2]
        integral = sum(v * (nxt[0] - t) for (t, v, ok), nxt in zip(inside, inside[1:]) if ok)
        assert row.integral == pytest.approx(integral, rel=1e-12)


@pytest.mark.parametrize("interval", [60, 300, 3600, 7200])
@pytest.mark.parametrize("edges", [(0, 3 * 3600), (-1799, 3 * 3600 - 17)])
def test_it_answers_from_rollups_exactly_as_from_raw(hist, dense, interval, edges):
    rollups_refresh(budget_seconds=60)
    start, end = T0 + edges[0], T0 + edges[1]
    for mode in MODES:
        _assert_matches(_query(hist, start, end, interval, mode), reference(dense, start, end, NOW.timestamp(),
                                                                             interval, mode))


@pytest.mark.postgresql
def test_it_reads_raw_for_late_samples_until_their_rollup_is_refreshed(hist, dense, load_samples):
    rollups_refresh(budget_seconds=60)
    load_samples(hist.id, [(T0 + 5.5, 1e6)])  # a late sample inside an hour already rolled up
    assert _query(hist, T0, T0 + 3600, 3600, "max") == [(T0, 1e6)]
    rollups_refresh(budget_seconds=60)
    assert HistorianRollup1h.objects.get(tag_id=hist.id, bucket=datetime.fromtimestamp(T0, tz=UTC)).value_max == 1e6


@pytest.mark.postgresql
def test_it_uses_the_hourly_tier_for_hourly_buckets(hist, dense):
    rollups_refresh(budget_seconds=60)
    # Prove the tier is read: change a rollup row behind the raw data's back; the answer follows the rollup.
    with connection.cursor() as cur:
        cur.execute("UPDATE historian_rollup_1h SET value_max = 12345 WHERE tag_id = %s AND bucket = %s",
                    [hist.id, datetime.fromtimestamp(T0 + 3600, tz=UTC)])
    assert _query(hist, T0, T0 + 3 * 3600, 3600, "max")[1] == (T0 + 3600, 12345)
    assert _query(hist, T0, T0 + 3 * 3600, 1800, "max")[2][1] != 12345  # 30-min buckets come from 1-min rows


@pytest.mark.postgresql
def test_it_leaves_the_open_minute_to_raw_reads_and_rolls_it_up_once_closed(hist, load_samples):
    import time_machine

    minute = T0 + 600
    load_samples(hist.id, [(minute + 1, 10.0), (minute + 30, 20.0), (minute - 59, 5.0)])
    with time_machine.travel(datetime.fromtimestamp(minute + 40, tz=UTC), tick=False):
        run = rollups_refresh(budget_seconds=60)
        # The closed minute before is rolled up; the open one stays dirty for the queries to read raw.
        assert run.minute_rows == 1 and run.chunks == 1
        assert HistorianDirtyRange.objects.get().ts_from == datetime.fromtimestamp(minute, tz=UTC)
        assert rollups_refresh(budget_seconds=60).chunks == 0  # nothing closed is dirty: no work, no re-read
        got = history_query(tags=[hist], start=datetime.fromtimestamp(minute - 60, tz=UTC),
                            end=datetime.fromtimestamp(minute + 60, tz=UTC), mode="count", interval=60,
                            now=datetime.fromtimestamp(minute + 40, tz=UTC))[hist.id]
        assert [p["v"] for p in got] == [1, 2]
    with time_machine.travel(datetime.fromtimestamp(minute + 66, tz=UTC), tick=False):
        assert rollups_refresh(budget_seconds=60).minute_rows == 1
    assert not HistorianDirtyRange.objects.exists(), list(HistorianDirtyRange.objects.values_list("ts_from", "ts_to"))
    assert HistorianRollup1m.objects.get(tag_id=hist.id, bucket=datetime.fromtimestamp(minute, tz=UTC)).value_sum == 30
