"""Partitions: created ahead with their indexes, dropped (and audited, with their chunks) by retention."""

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


@pytest.mark.postgresql
def test_it_gives_each_sample_partition_a_unique_index_and_a_brin_index_on_time(db):
    partitions_ensure(windows=[partition_window(NOW)])
    (p,) = partitions_list()
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [p.name])
        assert [row[0] for row in cur.fetchall()] == [
            f"CREATE INDEX {p.name}_ts_brin ON public.{p.name} USING brin (ts) WITH (pages_per_range='16')",
            f"CREATE UNIQUE INDEX {p.name}_uniq ON public.{p.name} USING btree (tag_id, ts)"]


@pytest.mark.postgresql
def test_it_drops_expired_partitions_whole_and_audits_each(db, settings):
    settings.KILN_HISTORIAN_RETENTION_DAYS = 30
    settings.KILN_HISTORIAN_COMPACT_AFTER_HOURS = 0
    old_day = NOW - timedelta(days=40)
    partitions_ensure(windows=[partition_window(old_day)])
    _fill(old_day.replace(hour=0, minute=0), tags=2, per_tag=10)
    with connection.cursor() as cur:
        cur.execute("ANALYZE historian_sample_p20260306_20260307")
        # Two more samples of that day already compacted: the drop takes them and counts them.
        cur.execute("INSERT INTO historian_chunk (tag_id, ts_from, ts_to, n, ts, v4, q) "
                    "VALUES (3, %s, %s, 2, ARRAY[%s, %s]::timestamptz[], '{1, 2}', '{0, 0}')",
                    [old_day - timedelta(hours=1), old_day, old_day - timedelta(hours=1), old_day])
    result = partitions_maintain(now=NOW)
    assert [name for name, _ in result["dropped"]] == ["historian_sample_p20260306_20260307",
                                                       "historian_rollup_1m_p20260306_20260307"]
    assert "historian_sample_p20260306_20260307" not in _names()
    record = AuditRecord.objects.get(action="historian.retention_drop", object_id="historian_sample_p20260306_20260307")
    assert record.old_value == {"from": "2026-03-06T00:00:00+00:00", "to": "2026-03-07T00:00:00+00:00",
                                "rows_estimate": 22}
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM historian_chunk")
        assert cur.fetchone()[0] == 0
    assert record.reason == "KILN_HISTORIAN_RETENTION_DAYS=30"


@pytest.mark.postgresql
@pytest.mark.parametrize("days", [0])
def test_it_keeps_everything_when_retention_is_off(db, settings, days):
    settings.KILN_HISTORIAN_RETENTION_DAYS = days
    partitions_ensure(windows=[partition_window(NOW - timedelta(days=4000))])
    assert partitions_maintain(now=NOW)["dropped"] == []
