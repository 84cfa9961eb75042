"""Part 11 electronic signatures: the one service that signs (accounts.Signature) and that checks a signature later.

Signing has two phases, so that a caller with its own ordering rule (a tag write: everything checked before the
PLC is touched, the attempt on record before it) can place each one:
- `signature_check`: input checks (NUL, shape: 400), the account is active and holds the role (403), the password
  is re-verified through accounts.services.password_verify (a wrong one counts toward the per-address lockout,
  403), and the two-person rule (403). Refusals are audited (`signature.refused`), each in its own transaction.
  Returns a SignatureGrant: proven, nothing stored yet.
- `signature_record`: the Signature row and its `signature.sign` audit record, in the caller's transaction
  (a tag write puts them in the transaction of its write-attempt record, so neither exists without the other).
`signature_sign` does both, for callers with no such ordering (batches, recipes, reports, deploys).
Call `signature_check`/`signature_sign` outside any outer transaction, as the tag write service does: a refusal's
audit record and a wrong password's lockout count must stay even though the caller's work is abandoned.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.audit_hashing import audit_canonical
from accounts.models import Signature, User
from accounts.services import password_verify
from scada.errors import BadRequest, Conflict, KilnError, PermissionDenied
from scada.roles import Role
from scada.text import has_nul as _has_nul
from scada.text import printable

logger = logging.getLogger(__name__)

__all__ = [
    "SignatureGrant",
    "signature_check",
    "signature_content_hash",
    "signature_input_parse",
    "signature_record",
    "signature_sign",
    "signature_verify",
]

SHAPE_MESSAGE = "signature must be an object with password, meaning and reason"
SECOND_PERSON_MESSAGE = "Signature rejected: a second person must sign."
DISABLED_MESSAGE = "Signature rejected: the signing account is disabled."
_FIELDS = ("password", "meaning", "reason")
MEANING_MAX = 200
REASON_MAX = 1000


@dataclass(frozen=True, slots=True)
class SignatureGrant:
    """A signature whose signer proved who they are and passed every rule (signature_check); not stored yet.

    `signed_at` is when the password was verified: the moment the signer executed the signature (§11.50).
    """

    signer: User
    printed_name: str
    meaning: str
    reason: str
    signed_at: datetime
    object_type: str
    object_id: str
    content: Any
    content_hash: str


def _canonical_bytes(content: Any) -> bytes:
    # What the audit trail stores is what PostgreSQL's jsonb gives back unchanged
    # (accounts.audit_hashing.audit_canonical), so the stored content re-serializes to the same bytes: sorted
    # keys, no spaces, ASCII only.
    return json.dumps(audit_canonical(content), sort_keys=True, ensure_ascii=True, separators=(",", ":"),
                      allow_nan=False).encode()


def signature_content_hash(content: Any) -> str:
    """SHA-256 (hex) of `content` in its canonical JSON form: the same for equal content, whatever its key order."""
    return hashlib.sha256(_canonical_bytes(content)).hexdigest()


def signature_input_parse(signature: Any) -> dict[str, str]:
    """A `{"password", "meaning", "reason"}` object from a request, checked; 400 with the texts the APIs use.

    NUL anywhere → "signature: <key> contains a NUL character (\\u0000)"; not an object → the shape message; an
    empty field → "signature: meaning, reason required". Meaning is cut to 200 characters, reason to 1000.
    """
    if isinstance(signature, dict):
        for key in sorted(k for k in signature if isinstance(k, str) and _has_nul(signature[k])):
            raise BadRequest(f"signature: {key} contains a NUL character (\\u0000)")
    if _has_nul(signature):
        raise BadRequest("signature contains a NUL character (\\u0000)")
    if not isinstance(signature, dict):
        raise BadRequest(SHAPE_MESSAGE)
    return _fields(signature.get("password"), signature.get("meaning"), signature.get("reason"))


def _fields(password, meaning, reason) -> dict[str, str]:
    given = {"password": password, "meaning": meaning, "reason": reason}
    for key in sorted(_FIELDS):  # alphabetical, as signature_input_parse reports them
        if _has_nul(given[key]):
            raise BadRequest(f"signature: {key} contains a NUL character (\\u0000)")
    missing = [k for k in _FIELDS if not str(given[k] or "").strip()]
    if missing:
        raise BadRequest(f"signature: {', '.join(missing)} required")
    return {"password": str(password), "meaning": str(meaning)[:MEANING_MAX], "reason": str(reason)[:REASON_MAX]}


def _account(signer) -> User | None:
    # The API hands services a token principal (no SQL on the hot path); a signature needs the account's row.
    if isinstance(signer, User):
        return signer
    pk = getattr(signer, "id", None)
    return User.objects.filter(pk=pk).first() if pk is not None else None


def _others(require_different_from) -> set[int]:
    if require_different_from is None:
        return set()
    items = ([require_different_from] if isinstance(require_different_from, (Signature, User))
             else list(require_different_from) if isinstance(require_different_from, Iterable) else [])
    return {item.signer_id if isinstance(item, Signature) else item.pk for item in items}


def _audit_refused(*, signer, object_type: str, object_id: str, meaning, reason, error: KilnError) -> None:
    # Part 11 asks for attempts too. Committed on its own: the refusal stands whether or not the trail takes it.
    try:
        with transaction.atomic():
            audit_record(action="signature.refused", user=signer, object_type=object_type, object_id=object_id,
                         new_value={"meaning": printable(meaning, MEANING_MAX), "status": error.status_code,
                                    "error": error.detail},
                         reason=printable(reason if isinstance(reason, str) else "") or "")
    except DatabaseError:
        logger.exception("Could not audit a refused signature on %s %s", object_type, object_id)


def signature_check(*, signer, password, meaning, reason, object_type: str, object_id: Any, content: Any,
                    min_role: int | None = None, require_different_from=None,
                    purpose: str | None = None, second_person_conflict: bool = False) -> SignatureGrant:
    """Every check of a signature, in order; returns the proven SignatureGrant or raises (and audits) the refusal.

    400: a NUL in password/meaning/reason, or one of them empty. 403: the account is disabled or unknown; its role
    is below `min_role`; the password is wrong (counted toward the lockout of the signer for this client address,
    with the answer password_verify gives) or the account is locked; the signer already signed
    `require_different_from` (a Signature, a User, or several: the two-person rule). `purpose` names the act in a
    wrong password's `auth.login_failed` record. Stores nothing but the refusal's `signature.refused` record.
    `second_person_conflict=True` answers the two-person rule with 409 instead of 403 (a batch's "verified by":
    the signer may sign, only not twice; the route's contract says 409).
    """
    object_id = str(object_id)
    try:
        fields = _fields(password, meaning, reason)
        account = _account(signer)
        if account is None or not account.is_active:
            raise PermissionDenied(DISABLED_MESSAGE)
        if min_role is not None and account.role < min_role:
            raise PermissionDenied(f"Signature rejected: signing requires the {Role(min_role).label} role or higher.")
        password_verify(user=account, password=fields["password"],
                        purpose=purpose or f"e-signature on {object_type} {object_id}")
        signed_at = timezone.now()
        # After the password: whoever is refused here has proven who they are, so the refusal names them truly.
        if account.pk in _others(require_different_from):
            raise (Conflict if second_person_conflict else PermissionDenied)(SECOND_PERSON_MESSAGE)
    except KilnError as exc:
        _audit_refused(signer=signer, object_type=object_type, object_id=object_id, meaning=meaning, reason=reason,
                       error=exc)
        raise
    return SignatureGrant(signer=account, printed_name=account.get_full_name().strip() or account.username,
                          meaning=fields["meaning"], reason=fields["reason"], signed_at=signed_at,
                          object_type=object_type, object_id=object_id, content=audit_canonical(content),
                          content_hash=signature_content_hash(content))


@transaction.atomic
def signature_record(*, grant: SignatureGrant) -> Signature:
    """Store a granted signature: the Signature row and its `signature.sign` audit record, in one transaction.

    Run it inside the transaction of the record the signature belongs to (e.g. a tag write's attempt record), so
    that one never commits without the other; on its own it commits both together.
    """
    signature = Signature.objects.create(
        signer=grant.signer, signer_username=grant.signer.username, printed_name=grant.printed_name,
        meaning=grant.meaning, reason=grant.reason, signed_at=grant.signed_at, object_type=grant.object_type,
        object_id=grant.object_id, content=grant.content, content_hash=grant.content_hash)
    audit_record(action="signature.sign", user=grant.signer, object_type=grant.object_type,
                 object_id=grant.object_id, reason=grant.reason,
                 new_value={"signature_id": signature.pk, "printed_name": grant.printed_name,
                            "meaning": grant.meaning, "signed_at": grant.signed_at.isoformat(),
                            "content_hash": grant.content_hash})
    return signature


def signature_sign(*, signer, password, meaning, reason, object_type: str, object_id: Any, content: Any,
                   min_role: int | None = None, require_different_from=None, purpose: str | None = None,
                   second_person_conflict: bool = False) -> Signature:
    """Sign `content` (what `object_type`/`object_id` is at signing time) as `signer`: check, then record.

    The errors of signature_check; then the Signature and its `signature.sign` audit record commit together.
    Call outside an outer transaction (see the module docstring).
    """
    grant = signature_check(signer=signer, password=password, meaning=meaning, reason=reason,
                            object_type=object_type, object_id=object_id, content=content, min_role=min_role,
                            require_different_from=require_different_from, purpose=purpose,
                            second_person_conflict=second_person_conflict)
    return signature_record(grant=grant)


_UNSET = object()


def signature_verify(*, signature: Signature, content: Any = _UNSET) -> bool:
    """True when the stored content still hashes to the signature's content_hash (§11.70), and, if `content` is
    given (the signed record as it stands now), when that hashes to it too: the signature belongs to that content.
    """
    if signature_content_hash(signature.content) != signature.content_hash:
        return False
    return content is _UNSET or signature_content_hash(content) == signature.content_hash
