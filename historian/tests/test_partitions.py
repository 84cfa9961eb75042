"""Partitions: created ahead, compacted to a BRIN layout, dropped (and audited) by retention."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from accounts.models import AuditRecord
from historian.partitions import (
    ROLLUP_TABLE,
    SAMPLE_TABLE,
    partition_window,
    partitions_ensure,
    partitions_list,
    partitions_maintain,
)

NOW = datetime(2026, 4, 15, 10, 30, tzinfo=UTC)


def _names(table=SAMPLE_TABLE):
    return [p.name for p in partitions_list(table)]


@pytest.mark.postgresql
def test_it_creates_daily_partitions_ahead_for_samples_and_rollups(db, settings):
    settings.KILN_HISTORIAN_PARTITIONS_AHEAD_DAYS = 2
    result = partitions_maintain(now=NOW)
    assert _names() == ["historian_sample_p20260415_20260416", "historian_sample_p20260416_20260417",
                        "historian_sample_p20260417_20260418"]
    assert _names(ROLLUP_TABLE)[0] == "historian_rollup_1m_p20260415_20260416"
    assert len(result["created"]) == 6
    assert partitions_maintain(now=NOW)["created"] == []  # idempotent


def test_it_aligns_weekly_partitions_on_monday(db, settings):
    settings.KILN_HISTORIAN_PARTITION_DAYS = 7
    assert partition_window(NOW) == (datetime(2026, 4, 13, tzinfo=UTC), datetime(2026, 4, 20, tzinfo=UTC))


@pytest.mark.postgresql
def test_it_fills_only_the_gaps_when_the_span_changes(db, settings):
    partitions_ensure(windows=[(datetime(2026, 4, 15, tzinfo=UTC), datetime(2026, 4, 16, tzinfo=UTC))])
    settings.KILN_HISTORIAN_PARTITION_DAYS = 7
    partitions_ensure(windows=[partition_window(NOW)])
    assert _names() == ["historian_sample_p20260413_20260415", "historian_sample_p20260415_20260416",
                        "historian_sample_p20260416_20260420"]


def _fill(day: datetime, tags=10, per_tag=3000):
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO historian_sample (ts, value, tag_id, quality)
               SELECT %s + (i * interval '1 second'), random() * 100, t, 0
               FROM generate_series(1, %s) t, generate_series(0, %s - 1) i""",
            [day, tags, per_tag])


def _bytes_per_row(name):
    # Heap, indexes, free-space and visibility maps: everything the partition takes on disk, per row.
    with connection.cursor() as cur:
        cur.execute("SELECT pg_total_relation_size(%s)::float / (SELECT count(*) FROM " + name + ")", [name])
        return cur.fetchone()[0]


@pytest.mark.postgresql
def test_it_compacts_old_partitions_to_a_brin_layout_of_about_52_bytes_a_sample(db, settings):
    settings.KILN_HISTORIAN_COMPACT_AFTER_HOURS = 48
    day = NOW.replace(hour=0, minute=0) - timedelta(days=5)
    partitions_ensure(windows=[partition_window(day)])
    _fill(day)
    (old,) = partitions_list()
    hot = _bytes_per_row(old.name)
    result = partitions_maintain(now=NOW)
    assert result["compacted"] == [old.name]
    (compacted,) = [p for p in partitions_list() if p.name == old.name]
    assert compacted.compacted
    cold = _bytes_per_row(old.name)
    assert cold <= 60 < hot, (hot, cold)
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [old.name])
        assert [row[0] for row in cur.fetchall()] == [
            f"CREATE INDEX {old.name}_brin ON public.{old.name} USING brin (tag_id, ts) WITH (pages_per_range='32')"]
        # Rows are now in (tag_id, ts) order: one tag's day is one contiguous run of pages.
        cur.execute(f"SELECT tag_id FROM {old.name}")
        tag_ids = [row[0] for row in cur.fetchall()]
        assert tag_ids == sorted(tag_ids)


@pytest.mark.postgresql
def test_it_leaves_recent_partitions_hot(db, settings):
    settings.KILN_HISTORIAN_COMPACT_AFTER_HOURS = 48
    partitions_ensure(windows=[partition_window(NOW - timedelta(days=1))])
    assert partitions_maintain(now=NOW)["compacted"] == []


@pytest.mark.postgresql
def test_it_drops_expired_partitions_whole_and_audits_each(db, settings):
    settings.KILN_HISTORIAN_RETENTION_DAYS = 30
    settings.KILN_HISTORIAN_COMPACT_AFTER_HOURS = 0
    old_day = NOW - timedelta(days=40)
    partitions_ensure(windows=[partition_window(old_day)])
    _fill(old_day.replace(hour=0, minute=0), tags=2, per_tag=10)
    with connection.cursor() as cur:
        cur.execute("ANALYZE historian_sample_p20260306_20260307")
    result = partitions_maintain(now=NOW)
    assert [name for name, _ in result["dropped"]] == ["historian_sample_p20260306_20260307",
                                                       "historian_rollup_1m_p20260306_20260307"]
    assert "historian_sample_p20260306_20260307" not in _names()
    record = AuditRecord.objects.get(action="historian.retention_drop", object_id="historian_sample_p20260306_20260307")
    assert record.old_value == {"from": "2026-03-06T00:00:00+00:00", "to": "2026-03-07T00:00:00+00:00",
                                "rows_estimate": 20}
    assert record.reason == "KILN_HISTORIAN_RETENTION_DAYS=30"


@pytest.mark.postgresql
@pytest.mark.parametrize("days", [0])
def test_it_keeps_everything_when_retention_is_off(db, settings, days):
    settings.KILN_HISTORIAN_RETENTION_DAYS = days
    partitions_ensure(windows=[partition_window(NOW - timedelta(days=4000))])
    assert partitions_maintain(now=NOW)["dropped"] == []
