"""The audit trail service: the one way any app records who did what (accounts.audit.audit_record).

Records are hash-chained in sequence order. Inserts are serialized with a transaction-scoped advisory lock
on PostgreSQL (SQLite serializes writers itself), so each record gets the next gapless `seq` and the hash of
the one before it; call these inside the same transaction as the change they describe, so the record commits
(or rolls back) with it. docs/audit.md describes the design: what is hashed, the keys, and checkpoints.

What a record's hash covers is accounts.audit_hashing; checkpoints and verification are accounts.audit_integrity.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from accounts.audit_hashing import (
    GENESIS_HASH,
    KEYED,
    UNKEYED,
    audit_canonical,
    canonical_text,
    canonical_ts,
    hash_fields,
    keyed_hasher,
)
from accounts.models import AuditRecord
from scada import context
from scada.bulk import copy_rows

__all__ = ["AuditEntry", "audit_record", "audit_record_many", "audit_record_bulk", "audit_legacy_seal",
           "LEGACY_SEAL_ACTION"]

LEGACY_SEAL_ACTION = "audit.legacy_sealed"
_AUDIT_LOCK_KEY = 0x4B494C4E  # "KILN": one advisory lock id for the audit chain
# Columns with a length limit (varchar), in characters.
# From this many records on, one COPY instead of an INSERT (scada.bulk).
_COPY_FROM = 100
# Records per COPY statement: one statement of 45,000 records would outlast the web's statement timeout.
_BULK_BATCH = 2000
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


def _rows(entries: list[AuditEntry], seq: int, prev: str) -> list[dict]:
    """The chain's next records as field values (hashes computed in order), without model instances."""
    now = timezone.now()
    ts_text = canonical_ts(now)
    ip = _fit(str(context.client_ip.get() or ""), _BOUNDED["client_ip"])
    rid = _fit(str(context.request_id.get() or ""), _BOUNDED["request_id"])
    keyed = keyed_hasher()
    rows = []
    for entry in entries:
        user = entry.user
        seq += 1
        username = entry.username if entry.username is not None else getattr(user, "username", "")
        row = SimpleNamespace(
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
            client_ip=ip,
            request_id=rid,
            prev_hash=prev,
            hash_alg=KEYED,
        )
        row.hash = prev = keyed(hash_fields(row, ts_text), seq)
        rows.append(row.__dict__)
    return rows


def _json_text(value) -> str | None:
    """A canonical value (JSON types only) as JSON text for COPY; NULL for None, as Django stores a null field."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits (canonical keeps up to ~3,900 digits)
        return json.dumps(value)


def _append(model, entries: list[AuditEntry]) -> list:
    rows = _rows(entries, *_lock_chain(model))
    records = [model(**row) for row in rows]
    if len(records) < _COPY_FROM:
        model.objects.bulk_create(records)
    else:
        _copy(model, rows)  # a batch write's hundreds of records: COPY, ids read back below
    if records[0].pk is None:  # COPY, or SQLite before RETURNING support: ids read back by seq
        ids = dict(model.objects.filter(seq__gte=records[0].seq, seq__lte=records[-1].seq).values_list("seq", "id"))
        for record in records:
            record.pk = ids[record.seq]
    return records


def _copy(model, rows: list[dict]) -> None:
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=_BULK_BATCH)
        return
    names = list(rows[0])
    json_fields = {"old_value", "new_value"}
    copy_rows(model._meta.db_table, [model._meta.get_field(n).column for n in names],
              ([_json_text(v) if k in json_fields else v for k, v in row.items()] for row in rows),
              batch_size=_BULK_BATCH)


@transaction.atomic
def audit_record_many(*, entries: list[AuditEntry]) -> list[AuditRecord]:
    """Append several records in one lock and one INSERT (batch tag writes: one record per item).

    Never fails on content: values are stored (and hashed) in their canonical form, see audit_canonical.
    """
    if not entries:
        return []
    return _append(AuditRecord, entries)


@transaction.atomic
def audit_record_bulk(*, entries: list[AuditEntry]) -> int:
    """Append tens of thousands of records (a configuration import: one per object) under one lock, by COPY in
    batches, without building model instances or reading ids back; returns how many were written.

    The same records, chain and canonical form as audit_record_many, which a caller needing ids uses instead.
    """
    if not entries:
        return 0
    _copy(AuditRecord, _rows(entries, *_lock_chain(AuditRecord)))
    return len(entries)


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


