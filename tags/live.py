"""The live value table: current value, quality, sub-status and timestamp of every tag, in one Redis hash.

One HMGET reads any number of tags in a single round trip; one HSET writes a whole poll cycle.
Entries are compact JSON arrays [value, quality, substatus, ts_epoch_seconds].
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from scada.redis import get_redis

LIVE_KEY = "kiln:live"

__all__ = ["LiveValue", "live_get_many", "live_set_many", "live_delete", "LIVE_KEY"]


@dataclass(slots=True, frozen=True)
class LiveValue:
    value: object
    quality: str
    substatus: str | None
    ts: float  # epoch seconds, UTC

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.ts, tz=UTC)

    def encode(self) -> bytes:
        return orjson.dumps([self.value, self.quality, self.substatus, self.ts])

    @classmethod
    def decode(cls, raw: bytes | None) -> LiveValue | None:
        if raw is None:
            return None
        v, q, s, ts = orjson.loads(raw)
        return cls(v, q, s, ts)


def live_get_many(tag_ids, client=None) -> dict[int, LiveValue | None]:
    """Current values for many tags in one round trip; None where a tag has never had a value."""
    ids = list(tag_ids)
    if not ids:
        return {}
    raw = (client or get_redis()).hmget(LIVE_KEY, ids)
    return {tid: LiveValue.decode(r) for tid, r in zip(ids, raw, strict=True)}


def live_set_many(values: dict[int, LiveValue], client=None) -> None:
    if values:
        (client or get_redis()).hset(LIVE_KEY, mapping={tid: lv.encode() for tid, lv in values.items()})


def live_delete(tag_ids) -> None:
    ids = list(tag_ids)
    if ids:
        get_redis().hdel(LIVE_KEY, *ids)
