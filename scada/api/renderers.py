"""orjson renderer: several times faster than the stdlib encoder on large tag lists."""

import datetime
import decimal
import json
import uuid

import orjson
from rest_framework.renderers import BaseRenderer


def _default(obj):
    fragment = getattr(obj, "json_fragment", None)  # a column store that writes its own JSON (RawSeries)
    if fragment is not None:
        return fragment() or list(obj)
    return _default_plain(obj)


def _default_plain(obj):
    if hasattr(obj, "json_fragment"):
        return list(obj)
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, (uuid.UUID,)):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "__str__"):
        return str(obj)
    raise TypeError


class KilnJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        try:
            return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            # orjson stops at 64-bit integers. PostgreSQL jsonb keeps 1e20 as the integer 100000000000000000000,
            # so an audit record of such a write read back that way; the stdlib encoder writes any integer.
            return json.dumps(data, default=_default_plain, ensure_ascii=False, separators=(",", ":")).encode()


def iso_utc(ts: datetime.datetime | None) -> str | None:
    """UTC ISO 8601 with 'Z' (the seeds' form), e.g. 2026-04-01T00:00:00Z; milliseconds kept when present."""
    if ts is None:
        return None
    ts = ts.astimezone(datetime.UTC)
    if ts.microsecond:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
