"""The audit trail service: the one way any app records who did what (accounts.audit.audit_record).

Records are hash-chained in insertion order. Inserts are serialized with a transaction-scoped advisory lock
on PostgreSQL (SQLite serializes writers itself), so the chain order equals the id order; call these inside
the same transaction as the change they describe, so the record commits (or rolls back) with it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuditRecord
from scada import context

__all__ = ["AuditEntry", "audit_record", "audit_record_many", "audit_verify", "audit_unkeyed_count", "GENESIS_HASH"]

GENESIS_HASH = "0" * 64
KEYED = "hmac-sha256"
UNKEYED = "sha256"  # records written before keyed hashing came in (migration accounts 0003)
_AUDIT_LOCK_KEY = 0x4B494C4E  # "KILN": one advisory lock id for the audit chain


@dataclass
class AuditEntry:
    """One record to append; user may be a User, a token principal, or None for the system."""

    action: str
    user: Any = None
    object_type: str = ""
    object_id: str = ""
    old_value: Any = None
    new_value: Any = None
    reason: str = ""
    username: str | None = None  # when there is no user object (e.g. a failed login's attempted name)


def _jsonable(value: Any) -> Any:
    # Round-trip through JSON so what is hashed is exactly what the JSONField stores and returns.
    if value is None:
        return None
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def _canonical_ts(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(record: AuditRecord) -> str:
    payload = {
        "prev": record.prev_hash,
        "ts": _canonical_ts(record.ts),
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
    message = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    if record.hash_alg == UNKEYED:
        return hashlib.sha256(message).hexdigest()
    if record.hash_alg != KEYED:
        return ""  # an unknown scheme never matches
    return hmac.new(settings.KILN_AUDIT_KEY.encode(), message, hashlib.sha256).hexdigest()


def _lock_chain() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_LOCK_KEY])
    last = AuditRecord.objects.order_by("-id").values_list("hash", flat=True).first()
    return last or GENESIS_HASH


@transaction.atomic
def audit_record_many(*, entries: list[AuditEntry]) -> list[AuditRecord]:
    """Append several records in one lock and one INSERT (batch tag writes: one record per item)."""
    if not entries:
        return []
    prev = _lock_chain()
    now = timezone.now()
    rid = context.request_id.get() or ""
    ip = context.client_ip.get() or ""
    records = []
    for entry in entries:
        user = entry.user
        record = AuditRecord(
            ts=now,
            user_id=getattr(user, "id", None) if user is not None else None,
            username=(entry.username if entry.username is not None else getattr(user, "username", "")) or "",
            action=entry.action,
            object_type=entry.object_type,
            object_id=str(entry.object_id or ""),
            old_value=_jsonable(entry.old_value),
            new_value=_jsonable(entry.new_value),
            reason=entry.reason or "",
            client_ip=ip,
            request_id=rid,
            prev_hash=prev,
            hash_alg=KEYED,
        )
        record.hash = compute_hash(record)
        prev = record.hash
        records.append(record)
    AuditRecord.objects.bulk_create(records)
    if records[0].pk is None:  # SQLite before RETURNING support: fetch ids back in order
        ids = list(AuditRecord.objects.order_by("-id").values_list("id", flat=True)[: len(records)])[::-1]
        for record, pk in zip(records, ids, strict=True):
            record.pk = pk
    return records


def audit_record(
    *,
    action: str,
    user: Any = None,
    object_type: str = "",
    object_id: Any = "",
    old_value: Any = None,
    new_value: Any = None,
    reason: str = "",
    username: str | None = None,
) -> AuditRecord:
    """Append one record to the audit trail and return it (its id is the `auditId` the APIs hand out)."""
    entry = AuditEntry(
        action=action,
        user=user,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else "",
        old_value=old_value,
        new_value=new_value,
        reason=reason,
        username=username,
    )
    return audit_record_many(entries=[entry])[0]


def audit_verify() -> tuple[int, AuditRecord | None, str]:
    """Walk the chain in id order. Returns (records checked, first broken record or None, what is wrong).

    Unkeyed records (plain SHA-256, from before keyed hashing) are accepted only before the first keyed one:
    an unkeyed record after it is what someone without the key would have to write, so it breaks the chain.
    """
    prev = GENESIS_HASH
    checked = 0
    keyed_seen = False
    for record in AuditRecord.objects.order_by("id").iterator(chunk_size=2000):
        if record.prev_hash != prev:
            why = "its prev_hash does not match the record before it (a record was removed, inserted or reordered)"
            return checked, record, why
        if record.hash_alg == UNKEYED and keyed_seen:
            return checked, record, "it carries an unkeyed hash after keyed ones (written without the audit key)"
        if compute_hash(record) != record.hash:
            why = "its content does not match its hash (the record was altered, or KILN_AUDIT_KEY is not the key " \
                  "it was written with)"
            return checked, record, why
        keyed_seen = keyed_seen or record.hash_alg == KEYED
        prev = record.hash
        checked += 1
    return checked, None, ""


def audit_unkeyed_count() -> int:
    """Records hashed without the key (written before keyed hashing came in): a chain, but forgeable."""
    return AuditRecord.objects.filter(hash_alg=UNKEYED).count()
