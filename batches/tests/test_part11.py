"""21 CFR Part 11 flows on a batch record: §11.50 manifestation, §11.70 linking, §11.200 re-verification,
§11.300 lockout, and the two-person rule."""

import pytest
from django.conf import settings

from accounts.models import AuditRecord, Signature
from batches.choices import BatchStatus
from batches.models import Batch, BatchPhase
from batches.selectors import batch_ebr, batch_get
from batches.services import batch_close, batch_comment_add
from batches.tests.conftest import signature
from scada.errors import Conflict, PermissionDenied

pytestmark = pytest.mark.django_db


def _close(batch, user, **kwargs):
    return batch_close(batch=batch_get(pk=batch.pk), user=user, signature=signature(**kwargs))


def test_it_closes_a_complete_batch_with_the_reviewers_signature(complete_batch, supervisor):
    batch = _close(complete_batch, supervisor)
    assert batch.status == BatchStatus.CLOSED and batch.closed_at is not None
    sig = batch.close_signature
    assert (sig.signer, sig.meaning) == (supervisor, "Reviewed and released")
    assert AuditRecord.objects.filter(action="batch.close", object_id=str(batch.pk)).exists()


def test_the_signature_manifestation_shows_printed_name_utc_time_and_meaning(complete_batch, supervisor):
    supervisor.first_name, supervisor.last_name = "Sam", "Reyes"
    supervisor.save()
    batch = _close(complete_batch, supervisor)
    [row] = [s for s in batch_ebr(batch_get(pk=batch.pk))["signatures"] if s["kind"] == "close"]
    assert row["printed_name"] == "Sam Reyes" and row["meaning"] == "Reviewed and released"
    assert row["signed_at"].endswith("Z") and row["valid"] is True


def test_the_signature_is_bound_to_the_record_hash(complete_batch, supervisor):
    batch = _close(complete_batch, supervisor)
    ebr = batch_ebr(batch_get(pk=batch.pk))
    assert batch.signed_hash == ebr["record_hash"] == batch.close_signature.content["record_hash"]
    assert ebr["record_unchanged_since_signing"] is True


def test_an_edit_after_signing_shows_the_signature_invalid(complete_batch, supervisor):
    batch = _close(complete_batch, supervisor)
    BatchPhase.objects.filter(batch=batch, position=3).update(value=55)  # someone edits the database
    ebr = batch_ebr(batch_get(pk=batch.pk))
    assert ebr["record_unchanged_since_signing"] is False
    assert [s["valid"] for s in ebr["signatures"] if s["kind"] == "close"] == [False]


def test_a_signature_copied_onto_another_batch_is_invalid_there(complete_batch, supervisor, approved_recipe):
    batch = _close(complete_batch, supervisor)
    other = Batch.objects.create(recipe=approved_recipe, machine=batch.machine, lot="L-OTHER",
                                 started_by=supervisor, started_at=batch.started_at, status=BatchStatus.CLOSED,
                                 close_signature=batch.close_signature, signed_hash=batch.signed_hash)
    ebr = batch_ebr(batch_get(pk=other.pk))
    assert ebr["record_unchanged_since_signing"] is False
    assert batch.close_signature.content["record"]["id"] == batch.pk != other.pk  # it names the batch it signed
    assert ebr["signatures"] == []  # and it is no signature of the other one


def test_a_wrong_password_is_403_audited_and_counts_toward_lockout(complete_batch, supervisor):
    with pytest.raises(PermissionDenied):
        _close(complete_batch, supervisor, password="wrong")
    complete_batch.refresh_from_db()
    assert complete_batch.status == BatchStatus.COMPLETE and not Signature.objects.filter(object_type="batch",
                                                                                           meaning__startswith="Rev")
    assert AuditRecord.objects.filter(action="signature.refused", object_id=str(complete_batch.pk)).exists()
    assert AuditRecord.objects.filter(action="auth.login_failed").exists()


def test_repeated_wrong_passwords_lock_the_signer_out(complete_batch, supervisor):
    limit = settings.LOGIN_MAX_FAILURES
    for _ in range(limit):
        with pytest.raises(PermissionDenied):
            _close(complete_batch, supervisor, password="wrong")
    with pytest.raises(PermissionDenied, match="(?i)locked"):
        _close(complete_batch, supervisor)  # even the right password, while locked (§11.300)
    complete_batch.refresh_from_db()
    assert complete_batch.status == BatchStatus.COMPLETE


def test_someone_elses_password_does_not_sign(complete_batch, supervisor, engineer):
    with pytest.raises(PermissionDenied):
        _close(complete_batch, engineer, password="kiln-supervisor-not-mine")


def test_an_operator_cannot_close(complete_batch, operator):
    with pytest.raises(PermissionDenied, match="supervisor"):
        _close(complete_batch, operator)


def test_a_closed_batch_cannot_be_closed_again(complete_batch, supervisor, engineer):
    _close(complete_batch, supervisor)
    with pytest.raises(Conflict, match="already closed"):
        _close(complete_batch, engineer)


def test_a_running_batch_cannot_be_closed(approved_recipe, supervisor):
    from batches.services import batch_start

    batch = batch_start(recipe="reactor-heat-cycle", machine_id="reactor-01", lot="L", parameters={},
                        user=supervisor)
    with pytest.raises(Conflict, match="running"):
        _close(batch, supervisor)


def test_a_closed_record_takes_no_more_comments(complete_batch, supervisor):
    _close(complete_batch, supervisor)
    with pytest.raises(Conflict, match="closed"):
        batch_comment_add(batch=batch_get(pk=complete_batch.pk), user=supervisor, text="late note")


@pytest.fixture
def verified_recipe(approved_recipe):
    type(approved_recipe).objects.filter(pk=approved_recipe.pk).update(requires_verification=True)
    return approved_recipe


def test_with_verification_the_first_signature_does_not_close(verified_recipe, complete_batch, supervisor):
    batch = _close(complete_batch, supervisor)
    assert batch.status == BatchStatus.COMPLETE and batch.close_signature.signer == supervisor
    assert AuditRecord.objects.filter(action="batch.review_sign").exists()


def test_the_second_signer_must_be_another_person_409(verified_recipe, complete_batch, supervisor):
    _close(complete_batch, supervisor)
    with pytest.raises(Conflict, match="second person"):
        _close(complete_batch, supervisor, meaning="Verified by")
    assert batch_get(pk=complete_batch.pk).status == BatchStatus.COMPLETE


def test_a_second_person_verifies_and_closes(verified_recipe, complete_batch, supervisor, engineer):
    _close(complete_batch, supervisor)
    batch = _close(complete_batch, engineer, meaning="Verified by")
    assert batch.status == BatchStatus.CLOSED and batch.verify_signature.signer == engineer
    kinds = [(s["kind"], s["valid"]) for s in batch_ebr(batch_get(pk=batch.pk))["signatures"]]
    assert kinds == [("close", True), ("verify", True)]


def test_a_record_changed_after_the_first_signature_cannot_be_verified(verified_recipe, complete_batch,
                                                                       supervisor, engineer, operator):
    _close(complete_batch, supervisor)
    batch_comment_add(batch=batch_get(pk=complete_batch.pk), user=operator, text="after review")
    with pytest.raises(Conflict, match="changed after its first signature"):
        _close(complete_batch, engineer, meaning="Verified by")
