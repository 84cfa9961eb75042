"""The writer's Redis side: read the oldest buffer entries, decode them into rows, trim what is committed,
move an unwritable entry to the dead-letter stream (historian.writer drives these; see its docstring).
"""

from __future__ import annotations

import logging
import time

from historian.buffer import buffer_decode
from historian.conf import conf
from historian.constants import BUFFER_COUNT, BUFFER_DROPPED, BUFFER_DROPPED_TOTAL, BUFFER_STREAM

logger = logging.getLogger(__name__)

__all__ = ["DEAD_LETTER_STREAM", "ENTRIES_PER_READ", "id_tuple", "decode_entries", "read_entries", "trim",
           "dead_letter"]

DEAD_LETTER_STREAM = "kiln:hist:deadletter"
ENTRIES_PER_READ = 500

# Trim every entry up to ARGV[1] (inclusive; ARGV[2] is the id just after it) and lower the buffered count by
# the samples those entries held, atomically. Idempotent: trimming the same entries twice lowers nothing twice.
_TRIM_LUA = """
local entries = redis.call('XRANGE', KEYS[1], '-', ARGV[1])
local n = 0
for _, e in ipairs(entries) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'n' then n = n + tonumber(f[i + 1]) end
  end
end
if #entries > 0 then
  redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])
  local c = redis.call('DECRBY', KEYS[2], n)
  if c < 0 then redis.call('SET', KEYS[2], 0) end
end
return n
"""



def id_tuple(entry_id: bytes | str) -> tuple[int, int]:
    ms, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")
    return int(ms), int(seq)



def decode_entries(entries) -> tuple[list, list, list[tuple[float, float]], int, bool]:
    """Stream entries → numeric rows, string rows, per-entry (min ts, max ts), expired count, maybe-null flag."""
    days = conf.KILN_HISTORIAN_RETENTION_DAYS
    expire_before = time.time() - days * 86400 if days else None
    num_rows, str_rows, spans, expired, maybe_null = [], [], [], 0, False
    for _entry_id, fields in entries:
        ts, tag_ids, values, codes = buffer_decode(fields[b"d"])
        if not ts:
            continue
        lo, hi = min(ts), max(ts)
        if expire_before is not None and lo < expire_before:
            keep = [i for i, t in enumerate(ts) if t >= expire_before]
            expired += len(ts) - len(keep)
            ts, tag_ids, values, codes = ([col[i] for i in keep] for col in (ts, tag_ids, values, codes))
            if not ts:
                continue
            lo = min(ts)
        spans.append((lo, hi))
        kinds = set(map(type, values))
        if kinds == {float}:  # the common case: one C-level zip, no per-sample Python
            num_rows.extend(zip(ts, values, tag_ids, codes, strict=True))
            continue
        maybe_null = True
        for t, tag_id, v, q in zip(ts, tag_ids, values, codes, strict=True):
            tv = type(v)
            if tv is float or v is None:
                num_rows.append((t, v, tag_id, q))
            elif tv is int or tv is bool:
                num_rows.append((t, float(v), tag_id, q))
            else:
                str_rows.append((t, v if tv is str else str(v), tag_id, q))
    return num_rows, str_rows, spans, expired, maybe_null


def read_entries(r, max_samples: int):
    entries, samples, start = [], 0, "-"
    while samples < max_samples:
        chunk = r.xrange(BUFFER_STREAM, min=start, max="+", count=ENTRIES_PER_READ)
        if not chunk:
            break
        for entry in chunk:
            entries.append(entry)
            samples += int(entry[1][b"n"])
            if samples >= max_samples:
                break
        if len(chunk) < ENTRIES_PER_READ:
            break
        start = "(" + entries[-1][0].decode()
    return entries, samples


def trim(r, last_id: bytes | str) -> int:
    """Remove every entry up to last_id (they are committed); returns the samples they held."""
    ms, seq = id_tuple(last_id)
    return r.eval(_TRIM_LUA, 2, BUFFER_STREAM, BUFFER_COUNT, f"{ms}-{seq}", f"{ms}-{seq + 1}")


def dead_letter(r, entry, error: str) -> int:
    n = int(entry[1][b"n"])
    pipe = r.pipeline(transaction=True)
    pipe.xadd(DEAD_LETTER_STREAM, {"id": entry[0], "d": entry[1][b"d"], "error": error[:500]})
    pipe.hincrby(BUFFER_DROPPED, "samples", n)
    pipe.hincrby(BUFFER_DROPPED, "batches", 1)
    pipe.hset(BUFFER_DROPPED, "reason", "unwritable entry moved to " + DEAD_LETTER_STREAM)
    pipe.incrby(BUFFER_DROPPED_TOTAL, n)
    pipe.execute()
    trim(r, entry[0])
    logger.error("Historian entry %s (%d samples) could not be written and went to %s: %s",
                 entry[0], n, DEAD_LETTER_STREAM, error)
    return n


