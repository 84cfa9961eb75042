"""Recording values: the ONLY way a new value enters Kiln (tags.values.tag_values_record).

Drivers, the write path for tags without a PLC, and the simulator all call it with a batch of samples
(one poll cycle). Per batch it: coerces each value to the tag's datatype, applies the tag's deadband and
change detection against the live table, stores the changes in the live table (one HSET), then hands the
list of changes to each value consumer once, in the order of settings.KILN_VALUE_CONSUMERS (WebSocket push,
historian buffer, alarm evaluation): that setting is the list of every place a value goes from here.

`tags` imports none of those consumers: adding one is a line in KILN_VALUE_CONSUMERS, never an edit here.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from scada.extensions import extension_list
from scada.redis import get_redis, version_token, version_token_move
from tags.choices import DataType, Quality
from tags.live import LIVE_KEY, LiveValue

logger = logging.getLogger(__name__)

__all__ = ["Sample", "Change", "tag_values_record", "tag_config_changed",
           "tag_config_version", "coerce_value", "TagMeta", "get_tag_meta"]

CONFIG_VERSION_KEY = "kiln:tags:config_version"


@dataclass(slots=True)
class Sample:
    """One reading of one tag: value in engineering units, quality, optional sub-status, epoch seconds.

    `stated_time`: the timestamp was stated by whoever wrote the value (an API client backfilling a lab
    result), not taken from this machine's clock. Only such a sample, when older than the live value, goes to
    history alone (Change.backfill). Driver samples never are: should the clock step back, live values must
    keep moving rather than freeze until the clock catches up.
    """

    tag_id: int
    value: object
    quality: str = Quality.GOOD
    substatus: str | None = None
    ts: float | None = None
    stated_time: bool = False


@dataclass(slots=True)
class Change:
    """A recorded change, handed to consumers. `previous` is the live value it replaced (or None).

    `backfill`: the sample, with a writer-stated time (Sample.stated_time), is older than the tag's live value
    (a lab result entered with its sample time). It goes to history but does not replace the live value, so
    only consumers marked `backfill = True` (the historian) see it; alarms and the live push act on the
    present, not on the past.
    """

    tag_id: int
    name: str
    value: object
    quality: str
    substatus: str | None
    ts: float
    previous: LiveValue | None
    backfill: bool = False


@dataclass(slots=True, frozen=True)
class TagMeta:
    id: int
    name: str
    datatype: str
    deadband: float
    is_active: bool
    machine_id: str


class _MetaCache:
    """Per-process tag configuration cache, dropped whenever any tag's configuration changes.

    The version counter lives in Redis and is read in the same round trip as the previous values, so a
    recorded batch costs no SQL unless the configuration changed since the last one.
    """

    def __init__(self):
        self.version: bytes | None = None
        self.by_id: dict[int, TagMeta] = {}
        self.lock = threading.Lock()

    def sync(self, version: bytes | None) -> None:
        if version != self.version:
            with self.lock:
                self.by_id = {}
                self.version = version

    def get(self, ids: Iterable[int]) -> dict[int, TagMeta]:
        missing = [i for i in ids if i not in self.by_id]
        if missing:
            from tags.models import Tag

            rows = Tag.objects.filter(pk__in=missing).values_list(
                "id", "name", "datatype", "deadband", "is_active", "machine__machine_id")
            with self.lock:
                for row in rows:
                    self.by_id[row[0]] = TagMeta(*row)
        return {i: self.by_id[i] for i in ids if i in self.by_id}


_meta = _MetaCache()


def tag_config_changed() -> None:
    """Tell every process that tag configuration changed (call after create/update/delete of a Tag)."""
    version_token_move(CONFIG_VERSION_KEY)
    _meta.sync(None)


def tag_config_version(client=None) -> bytes:
    """The current tag configuration version (scada.redis.version_token)."""
    return version_token(CONFIG_VERSION_KEY, client)


def get_tag_meta(tag_ids: Iterable[int]) -> dict[int, TagMeta]:
    return _meta.get(list(tag_ids))


def coerce_value(datatype: str, value):
    """The value as the tag's datatype (BOOL/INT/REAL/STRING). Raises ValueError/TypeError if it cannot be."""
    if value is None:
        return None
    if datatype == DataType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise TypeError(f"{value!r} is not a BOOL")
    if datatype == DataType.INT:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError(f"{value!r} is not an INT")
    if datatype == DataType.REAL:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            f = float(value)
            if math.isnan(f) or math.isinf(f):
                raise ValueError(f"{value!r} is not a finite REAL")
            return f
        raise TypeError(f"{value!r} is not a REAL")
    if datatype == DataType.STRING:
        return value if isinstance(value, str) else str(value)
    raise ValueError(f"unknown datatype {datatype!r}")


def _is_change(meta: TagMeta, value, quality: str, substatus, prev: LiveValue | None) -> bool:
    if prev is None or prev.quality != quality or prev.substatus != substatus:
        return True
    if value is None or prev.value is None:
        return value != prev.value
    if meta.deadband > 0 and meta.datatype in (DataType.REAL, DataType.INT):
        return abs(float(value) - float(prev.value)) > meta.deadband
    return value != prev.value


def tag_values_record(*, samples: list[Sample], force: bool = False) -> list[Change]:
    """Record a batch of samples; returns the changes that were stored and handed to consumers.

    `force` records every sample even when nothing changed (a manual write of the same value is still an
    event the historian and audit should see). Samples for unknown or inactive tags are dropped and counted.
    """
    if not samples:
        return []
    now = time.time()
    ids = list(dict.fromkeys(s.tag_id for s in samples))
    r = get_redis()
    pipe = r.pipeline(transaction=False)
    pipe.get(CONFIG_VERSION_KEY)
    pipe.hmget(LIVE_KEY, ids)
    version, raw_prev = pipe.execute()
    _meta.sync(version)
    metas = _meta.get(ids)
    prev = {tid: LiveValue.decode(raw) for tid, raw in zip(ids, raw_prev, strict=True)}

    changes: list[Change] = []
    live_updates: dict[int, LiveValue] = {}
    dropped = 0
    for s in samples:
        meta = metas.get(s.tag_id)
        if meta is None or not meta.is_active:
            dropped += 1
            continue
        try:
            value = coerce_value(meta.datatype, s.value)
        except (TypeError, ValueError):
            # A value the tag cannot hold is a configuration problem at the source, not a silent zero.
            last = prev.get(s.tag_id)
            value, quality, substatus = (last.value if last else None), Quality.BAD, "config_error"
        else:
            quality, substatus = s.quality, s.substatus
        ts = s.ts if s.ts is not None else now
        p = live_updates.get(s.tag_id) or prev.get(s.tag_id)
        if s.stated_time and p is not None and ts < p.ts:
            # Older than what the tag shows now: history only (no deadband: a past sample is a fact to keep).
            changes.append(Change(s.tag_id, meta.name, value, quality, substatus, ts, p, backfill=True))
            continue
        if not force and not _is_change(meta, value, quality, substatus, p):
            continue
        lv = LiveValue(value, quality, substatus, ts)
        live_updates[s.tag_id] = lv
        changes.append(Change(s.tag_id, meta.name, value, quality, substatus, ts, p))
    if dropped:
        logger.debug("tag_values_record: %d samples for unknown or inactive tags dropped", dropped)
    if not changes:
        return changes
    if live_updates:
        r.hset(LIVE_KEY, mapping={tid: lv.encode() for tid, lv in live_updates.items()})
    present = [c for c in changes if not c.backfill] if any(c.backfill for c in changes) else changes
    # Every place a value goes from here: settings.KILN_VALUE_CONSUMERS, in order (imported once, cached). A batch
    # without backfills (the usual one: `present is changes`) skips the consumer's `backfill` look-up.
    for path, consumer in extension_list("KILN_VALUE_CONSUMERS"):
        batch = changes if present is changes or getattr(consumer, "backfill", False) else present
        if not batch:
            continue
        try:
            consumer(batch)
        except Exception:
            # One failing consumer (say, the historian buffer) must not stop alarms or the live push.
            logger.exception("Value consumer %s failed on a batch of %d changes", path, len(batch))
    return changes
