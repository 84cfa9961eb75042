"""Closing a batch with e-signatures (21 CFR Part 11): the reviewer signs the EBR; where the recipe asks, a
second, different person signs as "Verified by" and only that closes the batch.

What is signed is batches.ebr.batch_signed_content: the record, its hash (`record_hash`) and the evidence as it
stood. The batch keeps that hash (`signed_hash`), so a later change to its record shows the signature invalid.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.signatures import signature_check, signature_input_parse, signature_record
from batches.choices import BatchStatus
from batches.ebr import batch_signed_content
from batches.models import Batch
from batches.push import batch_push_on_commit
from batches.services.refusals import refusal_audited
from scada.errors import Conflict
from scada.roles import Role

__all__ = ["batch_close", "CLOSER_ROLE"]

CLOSER_ROLE = Role.SUPERVISOR


@refusal_audited("close")
def batch_close(*, batch: Batch, user, signature) -> Batch:
    """Sign the batch record; close the batch when no second signature is needed (or this is it).

    400 a malformed signature; 403 wrong password (counted toward lockout, audited), role below Supervisor,
    disabled account; 409 the batch is closed already, still running or aborted, the second signer is the
    first one, or the record changed since the first signature. Returns the batch: `closed`, or still
    `complete` with its first signature when the recipe requires verification.
    Call outside a transaction (a refusal's record and a wrong password's count must stay).
    """
    fields = signature_input_parse(signature)
    if batch.status == BatchStatus.CLOSED:
        raise Conflict(f"Batch {batch.pk} is already closed")
    if batch.status != BatchStatus.COMPLETE:
        raise Conflict(f"Batch {batch.pk} is {batch.status}; only a complete batch (every phase done) is closed")
    content = batch_signed_content(batch)
    first = batch.close_signature
    verifying = batch.recipe.requires_verification and first is not None
    if verifying and first.content.get("record_hash") != content["record_hash"]:
        raise Conflict(f"Batch {batch.pk}'s record changed after its first signature; that signature is invalid")
    grant = signature_check(signer=user, **fields, object_type="batch", object_id=batch.pk, content=content,
                            min_role=CLOSER_ROLE, require_different_from=first if verifying else None,
                            second_person_conflict=True, purpose=f"e-signature closing batch {batch.pk}")
    closes = not batch.recipe.requires_verification or verifying
    now = timezone.now()
    with transaction.atomic():
        # The state checked above must still hold: two reviewers signing at once get one winner.
        expected = {"close_signature": first} if first is not None else {"close_signature__isnull": True}
        current = Batch.objects.filter(pk=batch.pk, status=BatchStatus.COMPLETE, **expected)
        signed = signature_record(grant=grant)
        if closes:
            changes = {"status": BatchStatus.CLOSED, "closed_at": now, "signed_hash": content["record_hash"]}
            changes["verify_signature" if verifying else "close_signature"] = signed
        else:
            changes = {"close_signature": signed, "signed_hash": content["record_hash"]}
        if current.update(**changes, last_updated=now) != 1:
            raise Conflict(f"Batch {batch.pk} was signed or changed meanwhile; nothing was signed")
        audit_record(action="batch.close" if closes else "batch.review_sign", user=grant.signer,
                     object_type="batch", object_id=batch.pk, old_value={"status": BatchStatus.COMPLETE},
                     new_value={"status": BatchStatus.CLOSED if closes else BatchStatus.COMPLETE,
                                "signature_id": signed.pk, "meaning": grant.meaning,
                                "record_hash": content["record_hash"], "content_hash": grant.content_hash},
                     reason=grant.reason)
        batch_push_on_commit(batch, "close" if closes else "review_sign")
    batch.refresh_from_db()
    return batch
