"""Time partitions of the sample and 1-minute rollup tables (PostgreSQL only): create ahead, drop.

- Partitions span one day or one ISO week (KILN_HISTORIAN_PARTITION_DAYS = 1 or 7), named
  `<table>_p<from>_<to>` (dates, UTC). Beat creates them a few days ahead; the writer creates one on demand
  for a sample outside every partition (a late backfill), so COPY never fails for want of a partition.
- A sample partition has a unique B-tree on (tag_id, ts): a replay is refused row by row (ON CONFLICT DO
  NOTHING), and a BRIN index on ts, so a compaction window (historian.compaction) reads only its own pages.
  Rows older than KILN_HISTORIAN_COMPACT_AFTER_HOURS move into compressed chunks (historian.chunks); an emptied
  partition stays, empty, for late samples. (Partitions compacted by older versions, rewritten with CLUSTER and
  a BRIN index instead of the unique one, are emptied into chunks the same way.)
- Retention drops whole partitions (no DELETE, no bloat) with the chunks of their time range, and audits each.

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

from historian.chunks import CHUNK_TABLE
from historian.conf import conf, statement_timeout_local
from historian.constants import MAINTENANCE_LOCK_KEY

logger = logging.getLogger(__name__)

__all__ = ["Partition", "SAMPLE_TABLE", "ROLLUP_TABLE", "partitions_list", "partition_names", "partitions_ensure",
           "partitions_ensure_for_times", "partitions_maintain", "partition_window", "partition_indexes_create"]

SAMPLE_TABLE = "historian_sample"
ROLLUP_TABLE = "historian_rollup_1m"
_NAME_RE = re.compile(r"^(?P<table>[a-z0-9_]+)_p(?P<start>\d{8})_(?P<end>\d{8})$")
LOCK_TIMEOUT = "10s"


@dataclass(frozen=True)
class Partition:
    """One partition: its table name, [start, end) as UTC midnights, and whether it lacks the unique index (a
    partition CLUSTERed by an older version: late samples there are checked by the writer's slow path)."""

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
    """The partitions of `table`, oldest first (`compacted`: a sample partition without its unique index)."""
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


def partition_names(start: datetime, end: datetime, table: str = SAMPLE_TABLE) -> list[str]:
    """The names the partitions holding [start, end) have if each was made by partition_window (today's span):
    no catalog read. Some may not exist (a gap, or partitions made with another span): a LOCK of them fails,
    and a LOCK that succeeds has locked partitions covering the whole range (bounds never overlap)."""
    names = []
    lo = partition_window(start)[0]
    while lo < end:
        hi = partition_window(lo)[1]
        names.append(f"{table}_p{lo:%Y%m%d}_{hi:%Y%m%d}")
        lo = hi
    return names


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
        partition_indexes_create(cur, name)
    return name


def partition_indexes_create(cur, name: str) -> None:
    """A sample partition's indexes: unique (tag_id, ts) for the writer, BRIN on ts for compaction windows."""
    cur.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name}_uniq ON {name} (tag_id, ts)")
    # 16 pages a range (~2,500 rows), not the default 128: a one-hour compaction window of a small plant spans
    # only a few hundred pages, and a 128-page range made its scan read about twice the rows it needed.
    cur.execute(f"CREATE INDEX IF NOT EXISTS {name}_ts_brin ON {name} USING brin (ts) WITH (pages_per_range = 16)")


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


def _drop(name: str) -> int:
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            statement_timeout_local(cur)
            cur.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE relname = %s", [name])
            row = cur.fetchone()
            rows = int(row[0]) if row else 0
            bounds = _parse(name)
            if bounds and name.startswith(SAMPLE_TABLE + "_p"):
                # The chunks of the partition's time range go with it (a chunk never spans two partitions).
                cur.execute(f"DELETE FROM {CHUNK_TABLE} WHERE ts_from >= %s AND ts_from < %s "  # noqa: S608
                            "RETURNING n", list(bounds))
                rows += sum(r[0] for r in cur.fetchall())
            cur.execute(f"DROP TABLE {name}")
    return rows


def partitions_maintain(*, now: datetime | None = None) -> dict:
    """One maintenance pass (beat, hourly): create partitions ahead, drop expired ones (compaction is its own
    task: historian.compaction).

    Returns what it did: {"created": [...], "dropped": [(name, rows), ...], "errors": [...]}.
    A partition that cannot be locked now is left for the next pass.
    """
    from accounts.audit import audit_record  # the audit service; imported here to keep this module light

    result = {"created": [], "dropped": [], "errors": []}
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
