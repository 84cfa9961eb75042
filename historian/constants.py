"""Historian constants: quality codes, Redis keys, advisory lock ids, query modes.

Quality and sub-status are stored as one smallint (`quality`): the hundreds give the quality (0 GOOD,
100 UNCERTAIN, 200 BAD), the units the sub-status (0 none). The numbers are part of the stored data, so a code
is never renumbered; new sub-statuses get new numbers. Samples with a code below 200 carry a usable value.
"""

from __future__ import annotations

QUALITY_BASE = {"GOOD": 0, "UNCERTAIN": 100, "BAD": 200}
QUALITY_NAMES = {0: "GOOD", 100: "UNCERTAIN", 200: "BAD"}
# First code that is not a usable value (BAD and worse).
BAD_CODE = 200

SUBSTATUS_CODES = {
    "comm_failure": 1,
    "config_error": 2,
    "out_of_range": 3,
    "stale": 4,
    "sensor_failure": 5,
    "manual": 6,
    "initial": 7,
    "data_lost": 8,  # read from the PLC but never delivered (drivers.outbox dropped it during an outage)
}
SUBSTATUS_OTHER = 99  # a sub-status this table does not know yet: kept as "other" rather than lost silently
SUBSTATUS_NAMES = {code: name for name, code in SUBSTATUS_CODES.items()} | {SUBSTATUS_OTHER: "other"}


def quality_code(quality: str, substatus: str | None) -> int:
    """GOOD/UNCERTAIN/BAD + sub-status → the stored smallint. An unknown quality is stored as BAD."""
    base = QUALITY_BASE.get(quality)
    if base is None:
        base, substatus = BAD_CODE, substatus or "other"
    if not substatus:
        return base
    return base + SUBSTATUS_CODES.get(substatus, SUBSTATUS_OTHER)


def quality_decode(code: int) -> tuple[str, str | None]:
    """The stored smallint → (quality, sub-status or None)."""
    base, sub = divmod(code, 100)
    return QUALITY_NAMES.get(base * 100, "BAD"), (SUBSTATUS_NAMES.get(sub, "other") if sub else None)


# --- Redis keys (the buffer is a stream; its sample count and drop counters sit beside it) ---
BUFFER_STREAM = "kiln:hist:buffer"
BUFFER_COUNT = "kiln:hist:buffer:samples"
BUFFER_EPOCH = "kiln:hist:buffer:epoch"  # a random token that changes only if Redis lost the stream
BUFFER_DROPPED = "kiln:hist:dropped"  # hash: samples, batches, first_ts, last_ts (not yet audited)
BUFFER_DROPPED_TOTAL = "kiln:hist:dropped:total"  # samples dropped since the buffer was created
WRITER_LEASE = "kiln:hist:writer:lease"
WRITER_STATS = "kiln:hist:writer:stats"  # hash: last_commit, committed_total, last_error, ...
HEARTBEAT_LAST = "kiln:hist:heartbeat"  # hash: tag id → epoch of the last re-stated sample
COMPACT_STATS = "kiln:hist:compact:stats"  # hash: last_run, last_values, values_total, last_error, ...

# --- PostgreSQL advisory lock ids ---
ROLLUP_LOCK_KEY = 0x4B484952  # "KHIR": one rollup refresher at a time
MAINTENANCE_LOCK_KEY = 0x4B48494D  # "KHIM": one partition maintainer at a time
WRITER_LOCK_KEY = 0x4B484957  # "KHIW": one writer transaction at a time (history delete waits for it)
WRITER_LEASE_KEY = 0x4B48574C  # "KHWL": one draining writer at a time (session lock, dies with the connection)
COMPACT_LOCK_KEY = 0x4B484943  # "KHIC": one compactor at a time (per window transaction)

# --- rollup tiers (seconds) and query modes ---
TIER_SECONDS = (3600, 60)  # coarsest first
MODES = ("raw", "average", "min", "max", "first", "last", "count", "sum", "range")
AGGREGATE_MODES = MODES[1:]
