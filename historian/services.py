"""Historian services: delete a tag's history, re-state unchanged values (heartbeat), audit dropped samples,
apply retention.

The ingest path itself lives in historian.buffer (the value consumer) and historian.writer (the writer);
rollups in historian.rollups; partitions in historian.partitions.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import redis
from django.db import connection, transaction

from accounts.audit import audit_record
from historian.buffer import buffer_append_rows
from historian.chunks import CHUNK_TABLE
from historian.conf import conf
from historian.constants import BUFFER_DROPPED, HEARTBEAT_LAST, WRITER_LOCK_KEY, quality_code
from historian.models import (
    HistorianRollup1h,
    HistorianRollup1m,
    HistorianSample,
    HistorianStringSample,
    TagHistorySetting,
)
from scada.redis import get_redis

logger = logging.getLogger(__name__)

__all__ = ["history_delete_for_tag", "historian_tag_deleted", "historian_orphans_delete", "historian_heartbeat",
           "historian_drops_audit", "historian_retention_apply"]

# Subtract what was audited (more may have been dropped meanwhile); forget the time range once all is audited.
_DROPS_ACK_LUA = """
local left = redis.call('HINCRBY', KEYS[1], 'samples', -tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[1], 'batches', -tonumber(ARGV[2]))
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left
"""


@transaction.atomic
def history_delete_for_tag(tag_id: int) -> int:
    """Delete every stored sample and rollup of a tag; returns how many samples (numeric + string) went.

    For tags.services.tag_delete, inside its transaction (so the audit record of the delete can say how many
    samples went, and a failed delete keeps the history). It waits for a writer transaction in progress, so no
    flush commits samples of the tag after this; the writer drops buffered samples of tags that no longer
    exist. Rollups go too: a tag's history is all of it or none of it.
    """
    counts = []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [WRITER_LOCK_KEY])
        for model in (HistorianSample, HistorianStringSample, HistorianRollup1m, HistorianRollup1h):
            cur.execute(f"DELETE FROM {model._meta.db_table} WHERE tag_id = %s", [tag_id])  # noqa: S608
            counts.append(cur.rowcount)
        if connection.vendor == "postgresql":  # compacted samples (historian.chunks)
            cur.execute(f"DELETE FROM {CHUNK_TABLE} WHERE tag_id = %s RETURNING n", [tag_id])  # noqa: S608
            counts[0] += sum(row[0] for row in cur.fetchall())
    deleted, strings = counts[0], counts[1]
    try:
        get_redis().hdel(HEARTBEAT_LAST, tag_id)
    except redis.RedisError:
        pass  # a stale heartbeat entry of a deleted tag is harmless; the heartbeat ignores unknown tags
    return deleted + strings


@transaction.atomic
def historian_tag_deleted(tag_id: int, name: str) -> int:
    """What the historian does on tags.signals.tag_deleted (historian.signals, sent once the delete commits):
    delete the tag's history and audit how many samples went (`historian.history_delete`)."""
    samples = history_delete_for_tag(tag_id)
    audit_record(action="historian.history_delete", object_type="tag", object_id=name,
                 old_value={"tag_id": tag_id, "samples": samples}, reason="tag deleted")
    return samples


def historian_orphans_delete() -> dict[int, int]:
    """Delete the history of tags that no longer exist (a tag-deleted hook that failed, a delete made in SQL).

    Finds the tag ids with 1-hour rollups with a loose index scan (one probe per distinct tag), so it stays
    cheap however much history there is; samples not rolled up yet belong to tags the writer checked. SQLite
    (the demo) has no rollups and little history: it looks at the sample tables themselves.
    """
    with connection.cursor() as cur:
        if connection.vendor != "postgresql":
            cur.execute("SELECT DISTINCT tag_id FROM historian_sample UNION "
                        "SELECT DISTINCT tag_id FROM historian_string_sample")
        else:
            cur.execute(
                """
                WITH RECURSIVE ids AS (
                    (SELECT tag_id FROM historian_rollup_1h ORDER BY tag_id LIMIT 1)
                    UNION ALL
                    SELECT (SELECT h.tag_id FROM historian_rollup_1h h WHERE h.tag_id > ids.tag_id
                            ORDER BY h.tag_id LIMIT 1)
                    FROM ids WHERE ids.tag_id IS NOT NULL
                )
                SELECT tag_id FROM ids WHERE tag_id IS NOT NULL
                """
            )
        stored = [row[0] for row in cur.fetchall()]
    from tags.models import Tag

    # Which of them still exist is asked of tags' model, not of its table by name.
    existing = set(Tag.objects.filter(id__in=stored).values_list("id", flat=True)) if stored else set()
    orphans = [tag_id for tag_id in stored if tag_id not in existing]
    return {tag_id: historian_tag_deleted(tag_id, f"#{tag_id} (deleted)") for tag_id in orphans}


def historian_heartbeat(*, now: float | None = None) -> int:
    """"Store at least every N minutes": re-state the live value of each tag whose last stored sample is older.

    tags.values hands the historian only changes (after the deadband), so a steady value would leave no sample
    for hours. For each active tag with an interval (its TagHistorySetting.store_every_minutes, else
    KILN_HISTORIAN_STORE_EVERY_MINUTES; 0 = off) this appends the live value, quality and sub-status with the
    current time to the buffer when neither a change (the live entry's time) nor an earlier re-statement
    (kept in a Redis hash) is recent enough. The live table itself is not touched: no new value enters Kiln,
    the historian only records that the value still holds. Returns the number of samples appended.
    """
    from tags.live import live_get_many
    from tags.models import Tag

    now = now if now is not None else time.time()
    default = conf.KILN_HISTORIAN_STORE_EVERY_MINUTES
    overrides = dict(TagHistorySetting.objects.exclude(store_every_minutes=None)
                     .values_list("tag_id", "store_every_minutes"))
    tags = Tag.objects.filter(is_active=True)
    if not default:
        tags = tags.filter(pk__in=[tid for tid, minutes in overrides.items() if minutes])
    ids = list(tags.values_list("id", flat=True))
    if not ids:
        return 0
    r = get_redis()
    live = live_get_many(ids, client=r)
    last = dict(zip(ids, r.hmget(HEARTBEAT_LAST, ids), strict=True))
    out_ids, out_values, out_codes = [], [], []
    for tag_id in ids:
        minutes = overrides.get(tag_id, default)
        lv = live.get(tag_id)
        if not minutes or lv is None:
            continue
        last_stored = max(lv.ts, float(last[tag_id] or 0))
        if now - last_stored >= minutes * 60:
            out_ids.append(tag_id)
            out_values.append(lv.value)
            out_codes.append(quality_code(lv.quality, lv.substatus))
    if not out_ids:
        return 0
    if buffer_append_rows([now] * len(out_ids), out_ids, out_values, out_codes, r=r):
        r.hset(HEARTBEAT_LAST, mapping=dict.fromkeys(out_ids, now))
        return len(out_ids)
    return 0


def historian_drops_audit() -> int:
    """Audit the samples dropped since the last call (buffer over quota, unwritable entries). Returns the count.

    The values path only counts drops in Redis (it must not need the database, which may be the very thing
    that is down); this beat task turns the count into one audit record once the database answers.
    """
    r = get_redis()
    dropped = {k.decode(): v.decode() for k, v in r.hgetall(BUFFER_DROPPED).items()}
    samples, batches = int(dropped.get("samples", 0)), int(dropped.get("batches", 0))
    if samples <= 0:
        return 0

    def iso(value):
        return datetime.fromtimestamp(float(value), tz=UTC).isoformat() if value else None

    with transaction.atomic():
        audit_record(
            action="historian.samples_dropped", object_type="historian", object_id="buffer",
            new_value={"samples": samples, "batches": batches, "first_ts": iso(dropped.get("first_ts")),
                       "last_ts": iso(dropped.get("last_ts")), "quota": conf.KILN_HISTORIAN_BUFFER_QUOTA},
            reason=dropped.get("reason") or "historian buffer over quota (KILN_HISTORIAN_BUFFER_QUOTA)",
        )
        transaction.on_commit(lambda: r.eval(_DROPS_ACK_LUA, 1, BUFFER_DROPPED, samples, batches))
    logger.error("Historian dropped %d samples in %d batches (audited)", samples, batches)
    return samples


def _chunks_delete_before(tag_id: int, horizon: datetime) -> int:
    """Delete a tag's compacted samples older than `horizon`; returns how many went.

    A chunk wholly older goes; a chunk straddling the horizon gives its newer samples back as rows (the next
    compaction packs them again) and goes too, so no sample is lost and none is kept past its retention.
    """
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH gone AS (
                DELETE FROM {CHUNK_TABLE} WHERE tag_id = %(tag)s AND ts_from < %(horizon)s
                RETURNING ts, v8, v4, q, n, ts_to
            ), kept AS (
                INSERT INTO historian_sample (ts, value, tag_id, quality)
                SELECT u.ts, coalesce(u.v8, u.v4), %(tag)s, u.q
                FROM gone g CROSS JOIN LATERAL unnest(g.ts, g.v8, g.v4, g.q) AS u(ts, v8, v4, q)
                WHERE g.ts_to >= %(horizon)s AND u.ts >= %(horizon)s
                ON CONFLICT DO NOTHING
                RETURNING 1
            )
            SELECT coalesce((SELECT sum(n) FROM gone), 0) - (SELECT count(*) FROM kept)
            """,  # noqa: S608 - a constant table name
            {"tag": tag_id, "horizon": horizon},
        )
        return int(cur.fetchone()[0])


def historian_retention_apply(*, now: datetime | None = None) -> dict:
    """Retention beyond whole partitions: string samples, 1-hour rollups, and tags with a shorter retention.

    Whole raw and 1-minute partitions are dropped by historian.partitions.partitions_maintain. On SQLite (the
    demo), which has no partitions, expired raw samples are deleted here instead (one audit record a run). A
    tag whose TagHistorySetting.retention_days is shorter than the global one loses its older samples here
    (DELETE by tag and time), with one audit record per tag and run.
    """
    now = now or datetime.now(tz=UTC)
    result = {"strings": 0, "hourly": 0, "raw": 0, "per_tag": {}}
    days = conf.KILN_HISTORIAN_RETENTION_DAYS
    if days:
        result["strings"], _ = HistorianStringSample.objects.filter(ts__lt=now - timedelta(days=days)).delete()
    if days and connection.vendor != "postgresql":
        horizon = now - timedelta(days=days)
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("DELETE FROM historian_sample WHERE ts < %s",
                            [connection.ops.adapt_datetimefield_value(horizon)])
                result["raw"] = cur.rowcount
            if result["raw"]:
                audit_record(action="historian.retention_delete", object_type="historian", object_id="historian_sample",
                             old_value={"samples": result["raw"], "before": horizon.isoformat()},
                             reason=f"KILN_HISTORIAN_RETENTION_DAYS={days}")
    hourly_days = conf.KILN_HISTORIAN_ROLLUP_RETENTION_DAYS
    if hourly_days:
        result["hourly"], _ = HistorianRollup1h.objects.filter(bucket__lt=now - timedelta(days=hourly_days)).delete()
    settings = TagHistorySetting.objects.exclude(retention_days=None).select_related("tag")
    for setting in settings:
        if days and setting.retention_days >= days:
            continue
        horizon = now - timedelta(days=setting.retention_days)
        with transaction.atomic():
            n, _ = HistorianSample.objects.filter(tag_id=setting.tag_id, ts__lt=horizon).delete()
            if connection.vendor == "postgresql":
                n += _chunks_delete_before(setting.tag_id, horizon)
            s, _ = HistorianStringSample.objects.filter(tag_id=setting.tag_id, ts__lt=horizon).delete()
            if n + s:
                audit_record(action="historian.retention_delete", object_type="tag", object_id=setting.tag.name,
                             old_value={"samples": n + s, "before": horizon.isoformat()},
                             reason=f"tag retention {setting.retention_days} days")
        if n + s:
            result["per_tag"][setting.tag.name] = n + s
    return result
