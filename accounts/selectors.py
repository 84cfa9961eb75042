"""Reads of accounts' records for other apps: signatures by the object they sign, audit records in a window.

Other apps never query accounts' tables themselves (tests/test_import_graph.py); they call these.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from accounts.models import AuditRecord, Signature
from accounts.signatures import signature_verify

__all__ = ["audit_records_between", "signature_dict", "signatures_for"]

AUDIT_WINDOW_MAX = 10_000


def signature_dict(signature: Signature, *, content=None) -> dict:
    """One signature as Part 11 §11.50 shows it: printed name, UTC time, meaning; `valid` re-checks §11.70.

    With `content` (the signed record as it stands now) `valid` also says whether the signature still belongs
    to it; without, whether its stored content still hashes to its hash.
    """
    valid = signature_verify(signature=signature) if content is None else signature_verify(signature=signature,
                                                                                           content=content)
    return {"id": signature.pk, "signer": signature.signer_username, "printed_name": signature.printed_name,
            "meaning": signature.meaning, "reason": signature.reason,
            "signed_at": signature.signed_at.isoformat().replace("+00:00", "Z"),
            "content_hash": signature.content_hash, "valid": valid}


def signatures_for(*, object_type: str, object_ids: Iterable[str]) -> list[Signature]:
    """Every signature on these objects, oldest first (one query)."""
    return list(Signature.objects.filter(object_type=object_type, object_id__in=[str(i) for i in object_ids])
                .order_by("signed_at", "id"))


def audit_records_between(*, start: datetime, end: datetime | None, object_type: str | None = None,
                          object_ids: Iterable[str] | None = None, actions: Iterable[str] | None = None,
                          limit: int = AUDIT_WINDOW_MAX) -> list[AuditRecord]:
    """Audit records in [start, end] (end None: up to now), optionally of one object type, ids and actions;
    oldest first, at most `limit` (one query on the ts index)."""
    queryset = AuditRecord.objects.filter(ts__gte=start)
    if end is not None:
        queryset = queryset.filter(ts__lte=end)
    if object_type is not None:
        queryset = queryset.filter(object_type=object_type)
    if object_ids is not None:
        queryset = queryset.filter(object_id__in=[str(i) for i in object_ids])
    if actions is not None:
        queryset = queryset.filter(action__in=list(actions))
    return list(queryset.order_by("seq")[:limit])
