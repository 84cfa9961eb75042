"""What an audit record's hash covers: the canonical form of its content, and the hash schemes.

The canonical form is what PostgreSQL's jsonb gives back unchanged, so a stored record re-hashes to the same
bytes (accounts.audit writes records in it; accounts.signatures hashes signed content in it). Records written
now carry KEYED (HMAC-SHA256 with KILN_AUDIT_KEY over canonical JSON, seq included); older records carry the
schemes they were written with, which accounts.audit_integrity still verifies. docs/audit.md has the design.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings

__all__ = ["GENESIS_HASH", "KEYED", "KEYED_V1", "UNKEYED", "SCHEME_RANK", "audit_canonical", "canonical_text",
           "canonical_ts", "canonical_bytes", "audit_key_bytes", "compute_hash", "hash_fields", "keyed_hasher"]

GENESIS_HASH = "0" * 64
KEYED = "hmac-sha256-v2"  # every record written now: canonical JSON, seq included, keyed with KILN_AUDIT_KEY
KEYED_V1 = "hmac-sha256"  # written from accounts 0003 until 0004: keyed, but orjson-serialized and without seq
UNKEYED = "sha256"  # written before accounts 0003: anyone can recompute these
SCHEME_RANK = {UNKEYED: 0, KEYED_V1: 1, KEYED: 2}  # a chain never goes back to an older scheme
_MAX_DEPTH = 64  # deeper nesting is elided: PostgreSQL and json both stop at some depth, a record must not
_MAX_INT_BITS = 13_000  # ~3,900 digits: below Python's 4,300-digit int/str limit, so json.loads reads it back


# --- canonical form ------------------------------------------------------------------------------------------
# What is stored is what is hashed, and it must come back from PostgreSQL unchanged: text and jsonb refuse NUL,
# jsonb refuses NaN/Infinity and lone surrogates, and jsonb keeps numbers as `numeric`, which prints 1e20 as
# 100000000000000000000 (an int once decoded) and -0.0 as 0.0. So the canonical form is already what jsonb gives.

def canonical_text(value: str) -> str:
    """Text as stored: plain str, NUL as the visible text \\u0000, lone surrogates as \\udXXX escapes."""
    if type(value) is str and value.isascii() and "\x00" not in value:
        return value  # the common case, checked in C: ASCII holds no surrogate
    value = str.__str__(value)  # a str subclass (TextChoices, StrEnum) as its plain text
    if "\x00" in value:
        value = value.replace("\x00", "\\u0000")  # visible escape: PostgreSQL text and jsonb refuse NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be stored as UTF-8: keep them as visible \udXXX escapes
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _int(value: int) -> int | str:
    value = int(value)
    if value.bit_length() > _MAX_INT_BITS:  # too long for json/str round-trips: exact, as hexadecimal text
        return ("-" if value < 0 else "") + hex(abs(value))
    return value


def _float(value: float) -> float | int | str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    if "e" not in text:  # plain notation already (the common case): jsonb gives the same float back
        return 0.0 if value == 0 else value
    # What jsonb's numeric prints for json.dumps' shortest repr: plain notation, no negative zero.
    text = format(Decimal(text), "f")
    if value == 0:
        text = text.lstrip("-")
    return json.loads(text)


def _dict_key(key: Any) -> str:
    if isinstance(key, str):
        return canonical_text(key)
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, int):
        return str(_int(key))
    if isinstance(key, float):
        number = _float(key)
        return number if isinstance(number, str) else json.dumps(number)
    return canonical_text(str(key))


def _canon(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return canonical_text(value)
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict | list | tuple) and depth >= _MAX_DEPTH:
        return f"…[nested deeper than {_MAX_DEPTH} levels, elided]"
    if isinstance(value, dict):
        return {_dict_key(k): _canon(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v, depth + 1) for v in value]
    try:  # datetimes, UUIDs, enums, dataclasses as orjson writes them; anything else as its str()
        plain = orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))
    except (TypeError, ValueError):
        plain = str(value)
    return _canon(plain, depth + 1)


def audit_canonical(value: Any) -> Any:
    """The form of `value` the trail stores and hashes: JSON that PostgreSQL's jsonb returns unchanged.

    Never fails: NUL becomes the text \\u0000, NaN/±Infinity become strings, -0.0 becomes 0.0, floats that
    numeric prints without a fraction (1e20) become ints, ints too long to read back become hex strings.
    """
    return _canon(value, 0)


def canonical_ts(ts: datetime) -> str:
    """A record's time as hashed: UTC, microseconds, Z."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(payload: dict) -> bytes:
    """The JSON bytes a keyed hash or a checkpoint signature is computed over."""
    # Sorted keys, no spaces, ASCII only: one byte string per value, whatever the key order or Python build.
    return json.dumps(payload, sort_keys=True, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()


def audit_key_bytes() -> bytes:
    """KILN_AUDIT_KEY, the key of record hashes and checkpoint signatures."""
    return settings.KILN_AUDIT_KEY.encode()


def hash_fields(record: Any, ts_text: str | None = None) -> dict:
    """The content a record's hash covers (besides scheme and seq), by its attributes; `ts_text` is
    canonical_ts(record.ts) when the caller has it already (one timestamp for a batch)."""
    return {
        "prev": record.prev_hash,
        "ts": ts_text if ts_text is not None else canonical_ts(record.ts),
        "user_id": record.user_id,
        "username": record.username,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "old": record.old_value,
        "new": record.new_value,
        "reason": record.reason,
        "ip": record.client_ip,
        "rid": record.request_id,
    }


def keyed_hasher():
    """A function (fields, seq) -> the KEYED hash, keyed once for a whole batch of records."""
    base = hmac.new(audit_key_bytes(), digestmod=hashlib.sha256)

    def keyed(fields: dict, seq: int) -> str:
        # The scheme and seq are part of the message: a record cannot be renumbered or relabelled.
        h = base.copy()
        h.update(canonical_bytes({**fields, "alg": KEYED, "seq": seq}))
        return h.hexdigest()

    return keyed


def compute_hash(record: Any) -> str:
    """The hash `record` must carry under its own scheme (record.hash_alg); "" for an unknown scheme.

    May raise for a record that cannot be serialized (only old schemes can meet one); audit_verify reports it.
    """
    fields = hash_fields(record)
    if record.hash_alg == KEYED:
        return keyed_hasher()(fields, record.seq)
    legacy = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)  # the older schemes' message, byte for byte
    if record.hash_alg == UNKEYED:
        return hashlib.sha256(legacy).hexdigest()
    if record.hash_alg == KEYED_V1:
        return hmac.new(audit_key_bytes(), legacy, hashlib.sha256).hexdigest()
    return ""
