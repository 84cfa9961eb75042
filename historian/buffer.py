"""The historian buffer: a Redis stream between the values service and the writer (store and forward).

`historian_buffer_append` is the value consumer (registered in HistorianConfig.ready): it turns one recorded
batch into one stream entry — columnar orjson `[ts[], tag_id[], value[], quality_code[]]`, never pickle — and
returns. A Lua script checks the quota and appends atomically, so a full buffer can never be overfilled by two
pollers at once. While PostgreSQL is down or slow the stream simply grows; the writer drains it in order when the
database is back. Above the quota a batch is dropped whole, counted in Redis, logged, and audited by
`historian_drops_audit` (beat) — the values path itself must stay fast and must not need the database.

Durability: the stream lives in Redis; run Redis with AOF (`appendonly yes`) so a Redis restart keeps it.
/api/system/status shows whether AOF is on.
"""

from __future__ import annotations

import logging
import secrets
import time

import orjson
import redis

from historian.conf import conf
from historian.constants import (
    BUFFER_COUNT,
    BUFFER_DROPPED,
    BUFFER_DROPPED_TOTAL,
    BUFFER_EPOCH,
    BUFFER_STREAM,
    COMPACT_STATS,
    WRITER_STATS,
    quality_code,
)
from scada.redis import get_redis

logger = logging.getLogger(__name__)

__all__ = ["historian_buffer_append", "buffer_append_rows", "buffer_encode", "buffer_decode", "buffer_epoch",
           "buffer_status", "historian_status_provider"]

# KEYS: stream, count, dropped hash, dropped total, epoch. ARGV: quota, n samples, payload, first ts, last ts,
# a fresh epoch token (kept only if the stream has none yet). Returns 1 when appended, 0 when dropped.
_APPEND_LUA = """
redis.call('SET', KEYS[5], ARGV[6], 'NX')
local n = tonumber(ARGV[2])
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if cur + n > tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[3], 'samples', n)
  redis.call('HINCRBY', KEYS[3], 'batches', 1)
  redis.call('HSETNX', KEYS[3], 'first_ts', ARGV[4])
  redis.call('HSET', KEYS[3], 'last_ts', ARGV[5])
  redis.call('INCRBY', KEYS[4], n)
  return 0
end
redis.call('XADD', KEYS[1], '*', 'n', n, 'd', ARGV[3])
redis.call('INCRBY', KEYS[2], n)
return 1
"""

_append_script = None


def _script(r):
    global _append_script
    if _append_script is None or _append_script.registered_client is not r:
        _append_script = r.register_script(_APPEND_LUA)
    return _append_script


def buffer_epoch(r=None) -> str:
    """The stream's instance token, created with the stream (see HistorianWriterCheckpoint)."""
    r = r or get_redis()
    r.set(BUFFER_EPOCH, secrets.token_hex(8), nx=True)
    return r.get(BUFFER_EPOCH).decode()


def buffer_encode(ts: list[float], tag_ids: list[int], values: list, codes: list[int]) -> bytes:
    """One batch as compact columnar JSON (orjson): about 25 bytes per sample."""
    return orjson.dumps([ts, tag_ids, values, codes])


def buffer_decode(payload: bytes) -> tuple[list[float], list[int], list, list[int]]:
    ts, tag_ids, values, codes = orjson.loads(payload)
    return ts, tag_ids, values, codes


def buffer_append_rows(ts: list[float], tag_ids: list[int], values: list, codes: list[int], r=None) -> bool:
    """Append one batch of samples (one XADD). False when the quota left no room and the batch was dropped."""
    n = len(ts)
    if not n:
        return True
    r = r or get_redis()
    ok = _script(r)(
        keys=[BUFFER_STREAM, BUFFER_COUNT, BUFFER_DROPPED, BUFFER_DROPPED_TOTAL, BUFFER_EPOCH],
        args=[conf.KILN_HISTORIAN_BUFFER_QUOTA, n, buffer_encode(ts, tag_ids, values, codes), min(ts), max(ts),
              secrets.token_hex(8)],
    )
    if not ok:
        logger.error("Historian buffer full (quota %d samples): a batch of %d samples was dropped",
                     conf.KILN_HISTORIAN_BUFFER_QUOTA, n)
    return bool(ok)


def historian_buffer_append(changes: list) -> None:
    """The value consumer (settings.KILN_VALUE_CONSUMERS): one recorded batch (tags.values.Change list) → one
    stream entry. Also gets backfills (samples older than the live value): history keeps the past.

    Runs inside every poll cycle, so it does as little as possible: four list comprehensions, one orjson
    call, one Redis round trip (EVALSHA).
    """
    if not changes:
        return
    buffer_append_rows(
        [c.ts for c in changes],
        [c.tag_id for c in changes],
        [c.value for c in changes],
        [quality_code(c.quality, c.substatus) for c in changes],
    )


# tags.values hands this consumer backfilled samples too (tags.values.Change.backfill); the others act on the present.
historian_buffer_append.backfill = True


def buffer_status(r=None) -> dict:
    """Buffer fill, drops and writer progress, read from Redis only (cheap enough for a status page)."""
    r = r or get_redis()
    pipe = r.pipeline(transaction=False)
    pipe.get(BUFFER_COUNT)
    pipe.hgetall(BUFFER_DROPPED)
    pipe.get(BUFFER_DROPPED_TOTAL)
    pipe.hgetall(WRITER_STATS)
    pipe.xrange(BUFFER_STREAM, count=1)
    pipe.hgetall(COMPACT_STATS)
    count, dropped, dropped_total, stats, oldest, compact = pipe.execute()
    compact = {k.decode(): v.decode() for k, v in compact.items()}
    quota = conf.KILN_HISTORIAN_BUFFER_QUOTA
    buffered = int(count or 0)
    stats = {k.decode(): v.decode() for k, v in stats.items()}
    oldest_age = None
    if oldest:
        oldest_age = max(0.0, time.time() - int(oldest[0][0].split(b"-")[0]) / 1000)
    return {
        "buffered_samples": buffered,
        "quota_samples": quota,
        "fill_percent": round(100.0 * buffered / quota, 2),
        "oldest_buffered_age_seconds": round(oldest_age, 1) if oldest_age is not None else None,
        "dropped_samples_total": int(dropped_total or 0),
        "dropped_samples_unaudited": int(dropped.get(b"samples", 0)),
        "writer_last_commit": stats.get("last_commit_iso"),
        "writer_committed_total": int(stats.get("committed_total", 0)),
        "writer_last_error": stats.get("last_error") or None,
        # Compaction of old rows into chunks (historian.compaction): last run, samples moved since the start.
        "compaction_last_run": compact.get("last_run"),
        "compaction_last_samples": int(compact.get("last_values", 0)),
        "compaction_samples_total": int(compact.get("values_total", 0)),
        "compaction_last_error": compact.get("last_error") or None,
    }


def historian_status_provider() -> tuple[str, dict]:
    """The historian's part of /api/system/status: degraded at KILN_HISTORIAN_BUFFER_WARN_PERCENT, or after a drop."""
    r = get_redis()
    try:
        info = buffer_status(r)
    except redis.RedisError as exc:
        return "historian", {"state": "down", "error": f"buffer unreachable: {str(exc)[:160]}"}
    reasons = []
    if info["fill_percent"] >= conf.KILN_HISTORIAN_BUFFER_WARN_PERCENT:
        reasons.append(f"buffer {info['fill_percent']}% full (warning at {conf.KILN_HISTORIAN_BUFFER_WARN_PERCENT}%): "
                       "the writer cannot keep up or the database is down")
    if info["dropped_samples_unaudited"]:
        reasons.append(f"{info['dropped_samples_unaudited']} samples dropped (buffer over quota)")
    from historian.health import buffer_durability

    try:
        # A flag, not a degraded state: a test system may run without persistence on purpose; production is
        # refused by check --deploy (historian.health).
        info["buffer_durable"], info["buffer_durability"] = buffer_durability(r)
    except redis.RedisError:
        info["buffer_durable"], info["buffer_durability"] = None, "unknown: Redis did not answer"
    info["buffer_persistent"] = info["buffer_durable"]  # the name before 18; kept for existing clients
    info["state"] = "degraded" if reasons else "ok"
    if reasons:
        info["reasons"] = reasons
    return "historian", info
