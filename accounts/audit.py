"""The audit trail service: the one way any app records who did what (accounts.audit.audit_record).

Records are hash-chained in sequence order. Inserts are serialized with a transaction-scoped advisory lock
on PostgreSQL (SQLite serializes writers itself), so each record gets the next gapless `seq` and the hash of
the one before it; call these inside the same transaction as the change they describe, so the record commits
(or rolls back) with it. docs/audit.md describes the design: what is hashed, the keys, and checkpoints.

What a record's hash covers is accounts.audit_hashing; checkpoints and verification are accounts.audit_integrity.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.audit_hashing import GENESIS_HASH, KEYED, UNKEYED, audit_canonical, canonical_text, compute_hash
from accounts.models import AuditRecord
from scada import context
from scada.bulk import bulk_insert

__all__ = ["AuditEntry", "audit_record", "audit_record_many", "audit_legacy_seal", "LEGACY_SEAL_ACTION"]

LEGACY_SEAL_ACTION = "audit.legacy_sealed"
_AUDIT_LOCK_KEY = 0x4B494C4E  # "KILN": one advisory lock id for the audit chain
# Columns with a length limit (varchar), in characters.
# From this many records on, one COPY instead of an INSERT (scada.bulk).
_COPY_FROM = 100
_BOUNDED = {"username": 150, "action": 64, "object_type": 64, "object_id": 255, "client_ip": 45, "request_id": 64}


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


def _fit(value: str, limit: int) -> str:
    value = canonical_text(value)
    if len(value) <= limit:
        return value
    # Over-long text is shortened visibly, with the digest of the full text, rather than refused or cut silently.
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    suffix = f"…[{len(value)} chars, sha256 {digest}]"
    return value[: max(0, limit - len(suffix))] + suffix


def _lock_chain(model) -> tuple[int, str]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_LOCK_KEY])
    last = model.objects.order_by("-seq").values_list("seq", "hash").first()
    return last or (0, GENESIS_HASH)


def _append(model, entries: list[AuditEntry]) -> list:
    seq, prev = _lock_chain(model)
    now = timezone.now()
    rid = context.request_id.get() or ""
    ip = context.client_ip.get() or ""
    records = []
    for entry in entries:
        user = entry.user
        seq += 1
        username = entry.username if entry.username is not None else getattr(user, "username", "")
        record = model(
            seq=seq,
            ts=now,
            user_id=getattr(user, "id", None) if user is not None else None,
            username=_fit(str(username or ""), _BOUNDED["username"]),
            action=_fit(str(entry.action), _BOUNDED["action"]),
            object_type=_fit(str(entry.object_type or ""), _BOUNDED["object_type"]),
            object_id=_fit(str(entry.object_id or ""), _BOUNDED["object_id"]),
            old_value=audit_canonical(entry.old_value),
            new_value=audit_canonical(entry.new_value),
            reason=canonical_text(str(entry.reason or "")),
            client_ip=_fit(str(ip), _BOUNDED["client_ip"]),
            request_id=_fit(str(rid), _BOUNDED["request_id"]),
            prev_hash=prev,
            hash_alg=KEYED,
        )
        record.hash = compute_hash(record)
        prev = record.hash
        records.append(record)
    if len(records) < _COPY_FROM:
        model.objects.bulk_create(records)
    else:
        bulk_insert(model, records)  # a config import's tens of thousands of records: COPY, ids read back below
    if records[0].pk is None:  # COPY, or SQLite before RETURNING support: ids read back by seq
        ids = dict(model.objects.filter(seq__gte=records[0].seq, seq__lte=records[-1].seq).values_list("seq", "id"))
        for record in records:
            record.pk = ids[record.seq]
    return records


@transaction.atomic
def audit_record_many(*, entries: list[AuditEntry]) -> list[AuditRecord]:
    """Append several records in one lock and one INSERT (batch tag writes: one record per item).

    Never fails on content: values are stored (and hashed) in their canonical form, see audit_canonical.
    """
    if not entries:
        return []
    return _append(AuditRecord, entries)


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


@transaction.atomic
def audit_legacy_seal(*, model=None):
    """Vouch, with a keyed record, for the unkeyed records already at the start of the chain (their count and the
    hash of the last one); returns that record, or None when there are none. Run once, by migration accounts 0004.

    Without such a seal audit_verify refuses every unkeyed record, so rewriting the whole trail with plain
    SHA-256 (which needs no key) fails, and so does adding or rewriting unkeyed records after the seal.
    """
    model = model or AuditRecord
    _lock_chain(model)
    unkeyed = model.objects.filter(hash_alg=UNKEYED)
    count = unkeyed.count()
    if not count:
        return None
    last = unkeyed.order_by("-seq").values_list("seq", "hash").first()
    entry = AuditEntry(action=LEGACY_SEAL_ACTION, object_type="audit", reason="records from before keyed hashing",
                       new_value={"unkeyed_records": count, "last_unkeyed_seq": last[0], "last_unkeyed_hash": last[1]})
    return _append(model, [entry])[0]


