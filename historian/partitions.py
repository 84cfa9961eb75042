"""Time partitions of the sample and 1-minute rollup tables (PostgreSQL only): create ahead, compact, drop.

- Partitions span one day or one ISO week (KILN_HISTORIAN_PARTITION_DAYS = 1 or 7), named
  `<table>_p<from>_<to>` (dates, UTC). Beat creates them a few days ahead; the writer creates one on demand
  for a sample outside every partition (a late backfill), so COPY never fails for want of a partition.
- A hot sample partition has a unique B-tree on (tag_id, ts): a replay is refused row by row
  (ON CONFLICT DO NOTHING). Once a partition is older than KILN_HISTORIAN_COMPACT_AFTER_HOURS it is rewritten
  in (tag_id, ts) order (CLUSTER) and its B-tree replaced by a BRIN index: ~52 bytes per sample instead of
  ~84. Rows for such old partitions go through the writer's slow path, which checks for an existing row first.
- Retention drops whole partitions (no DELETE, no bloat) and audits each drop.

Every DDL statement runs with a lock timeout: a long query holding the parent table makes the statement give up
and the next beat run try again, instead of queueing every other query behind it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from historian.conf import conf, statement_timeout_local
from historian.constants import MAINTENANCE_LOCK_KEY

logger = logging.getLogger(__name__)

__all__ = ["Partition", "SAMPLE_TABLE", "ROLLUP_TABLE", "partitions_list", "partitions_ensure",
           "partitions_ensure_for_times", "partition_compact", "partitions_maintain", "partition_window"]

SAMPLE_TABLE = "historian_sample"
ROLLUP_TABLE = "historian_rollup_1m"
_NAME_RE = re.compile(r"^(?P<table>[a-z0-9_]+)_p(?P<start>\d{8})_(?P<end>\d{8})$")
LOCK_TIMEOUT = "10s"
BRIN_PAGES_PER_RANGE = 32


@dataclass(frozen=True)
class Partition:
    """One partition: its table name, [start, end) as UTC midnights, and whether it is compacted (BRIN)."""

    name: str
    start: datetime
    end: datetime
    compacted: bool = False


def _span_days() -> int:
    span = conf.KILN_HISTORIAN_PARTITION_DAYS
    if span not in (1, 7):
        raise ImproperlyConfigured(f"KILN_HISTORIAN_PARTITION_DAYS must be 1 (daily) or 7 (weekly), got {span}")
    return span


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def partition_window(ts: datetime) -> tuple[datetime, datetime]:
    """The aligned [start, end) of the partition a new partition for `ts` would get (UTC day or ISO week)."""
    span = _span_days()
    day = ts.astimezone(UTC).date()
    if span == 7:
        day -= timedelta(days=day.weekday())  # Monday
    return _midnight(day), _midnight(day + timedelta(days=span))


def _parse(name: str) -> tuple[datetime, datetime] | None:
    m = _NAME_RE.match(name)
    if not m:
        return None
    start = datetime.strptime(m["start"], "%Y%m%d").replace(tzinfo=UTC)
    end = datetime.strptime(m["end"], "%Y%m%d").replace(tzinfo=UTC)
    return start, end


def partitions_list(table: str = SAMPLE_TABLE) -> list[Partition]:
    """The partitions of `table`, oldest first. A sample partition without a unique index is compacted."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.relname,
                   NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique)
            FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid
            WHERE inh.inhparent = %s::regclass
            """,
            [table],
        )
        rows = cur.fetchall()
    out = []
    for name, no_unique in rows:
        bounds = _parse(name)
        if bounds is None:
            logger.warning("Partition %s of %s has an unexpected name; left alone", name, table)
            continue
        out.append(Partition(name, bounds[0], bounds[1], compacted=table == SAMPLE_TABLE and no_unique))
    return sorted(out, key=lambda p: p.start)


def _gaps(window: tuple[datetime, datetime], existing: list[Partition]) -> list[tuple[datetime, datetime]]:
    """Parts of `window` no existing partition covers (spans may have changed since older ones were made)."""
    start, end = window
    gaps = []
    cursor = start
    for p in existing:
        if p.end <= cursor or p.start >= end:
            continue
        if p.start > cursor:
            gaps.append((cursor, p.start))
        cursor = max(cursor, p.end)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def _create(cur, table: str, start: datetime, end: datetime) -> str:
    name = f"{table}_p{start:%Y%m%d}_{end:%Y%m%d}"
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "  # noqa: S608 - names built from dates only
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )
    if table == SAMPLE_TABLE:
        cur.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name}_uniq ON {name} (tag_id, ts)")
    return name


def partitions_ensure(*, windows: list[tuple[datetime, datetime]], tables=(SAMPLE_TABLE, ROLLUP_TABLE)) -> list[str]:
    """Create partitions so that every window is covered in each table. Returns the names created."""
    if connection.vendor != "postgresql" or not windows:
        return []
    created = []
    with transaction.atomic():
        with connection.cursor() as cur:
            statement_timeout_local(cur)  # first: the advisory lock may wait for another maintenance run
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [MAINTENANCE_LOCK_KEY])
            cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            for table in tables:
                existing = partitions_list(table)
                for window in sorted(set(windows)):
                    for gap in _gaps(window, existing):
                        created.append(_create(cur, table, *gap))
                        existing = sorted([*existing, Partition("", *gap)], key=lambda p: p.start)
    if created:
        logger.info("Historian partitions created: %s", ", ".join(created))
    return created


def partitions_ensure_for_times(times: list[float]) -> list[str]:
    """Make sure partitions exist for these epoch-second timestamps (the writer, for out-of-range samples)."""
    windows = {partition_window(datetime.fromtimestamp(t, tz=UTC)) for t in times}
    return partitions_ensure(windows=sorted(windows))


def partition_compact(name: str) -> None:
    """Rewrite a sample partition in (tag_id, ts) order and swap its unique B-tree for a BRIN index.

    CLUSTER holds an exclusive lock on this one partition while it runs (queries of that day wait; other days
    and the writer's current data do not). The unique index is dropped only after the rewrite, in the same
    transaction, so the partition is never without its duplicate check while it can still take fast-path rows.
    """
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            statement_timeout_local(cur)
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute(f"CLUSTER {name} USING {name}_uniq")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {name}_brin ON {name} USING brin (tag_id, ts) "
                        f"WITH (pages_per_range = {BRIN_PAGES_PER_RANGE})")
            cur.execute(f"DROP INDEX {name}_uniq")
    with transaction.atomic(), connection.cursor() as cur:
        statement_timeout_local(cur)
        cur.execute(f"ANALYZE {name}")
    logger.info("Historian partition %s compacted", name)


def _drop(name: str) -> int:
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            statement_timeout_local(cur)
            cur.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE relname = %s", [name])
            row = cur.fetchone()
            cur.execute(f"DROP TABLE {name}")
    return int(row[0]) if row else 0


def compact_before(now: datetime) -> datetime | None:
    """Partitions ending before this are compacted; None when compaction is off."""
    hours = conf.KILN_HISTORIAN_COMPACT_AFTER_HOURS
    return now - timedelta(hours=hours) if hours else None


def partitions_maintain(*, now: datetime | None = None, compact: bool = True) -> dict:
    """One maintenance pass (beat, hourly): create ahead, compact old sample partitions, drop expired ones.

    Returns what it did: {"created": [...], "compacted": [...], "dropped": [(name, rows), ...], "errors": [...]}.
    A partition that cannot be locked now is left for the next pass.
    """
    from accounts.audit import audit_record  # the audit service; imported here to keep this module light

    result = {"created": [], "compacted": [], "dropped": [], "errors": []}
    if connection.vendor != "postgresql":
        return result
    now = now or datetime.now(tz=UTC)
    ahead = conf.KILN_HISTORIAN_PARTITIONS_AHEAD_DAYS
    windows = sorted({partition_window(now + timedelta(days=d)) for d in range(0, ahead + 1)})
    try:
        result["created"] = partitions_ensure(windows=windows)
    except Exception as exc:  # noqa: BLE001 - keep going: compaction and retention are independent
        logger.warning("Historian partition creation failed: %s", exc)
        result["errors"].append(f"create: {exc}")

    before = compact_before(now)
    if compact and before is not None:
        for p in partitions_list(SAMPLE_TABLE):
            if p.end <= before and not p.compacted:
                try:
                    partition_compact(p.name)
                    result["compacted"].append(p.name)
                except Exception as exc:  # noqa: BLE001
                    logger.warning("Historian partition %s not compacted now: %s", p.name, exc)
                    result["errors"].append(f"compact {p.name}: {exc}")

    days = conf.KILN_HISTORIAN_RETENTION_DAYS
    if days:
        horizon = now - timedelta(days=days)
        for table in (SAMPLE_TABLE, ROLLUP_TABLE):
            for p in partitions_list(table):
                if p.end > horizon:
                    continue
                try:
                    rows = _drop(p.name)
                except Exception as exc:  # noqa: BLE001
                    logger.warning("Historian partition %s not dropped now: %s", p.name, exc)
                    result["errors"].append(f"drop {p.name}: {exc}")
                    continue
                result["dropped"].append((p.name, rows))
                audit_record(action="historian.retention_drop", object_type="historian_partition",
                             object_id=p.name, old_value={"from": p.start.isoformat(), "to": p.end.isoformat(),
                                                          "rows_estimate": rows},
                             reason=f"KILN_HISTORIAN_RETENTION_DAYS={days}")
    return result
