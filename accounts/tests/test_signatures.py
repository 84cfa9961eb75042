"""accounts.signatures: Part 11 e-signatures as records (sign, refuse, lockout, two-person rule, hash, append-only)."""

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import AuditRecord, Signature, User
from accounts.signatures import (
    signature_check,
    signature_content_hash,
    signature_input_parse,
    signature_record,
    signature_sign,
    signature_verify,
)
from conftest import PASSWORD
from scada import context
from scada.errors import BadRequest, Conflict, PermissionDenied
from scada.roles import Role

pytestmark = pytest.mark.django_db

CONTENT = {"batch": "B-1042", "step": 3, "values": {"temp": 72.5, "ok": True}}


def sign(user, password=PASSWORD, **kwargs):
    args = {"meaning": "Approved", "reason": "QA release", "object_type": "batch", "object_id": "B-1042",
            "content": CONTENT}
    args.update(kwargs)
    return signature_sign(signer=user, password=password, **args)


@pytest.fixture
def client_address():
    token = context.client_ip.set("10.0.0.9")
    yield "10.0.0.9"
    context.client_ip.reset(token)


def test_it_signs_and_stores_who_what_why_and_when(supervisor):
    supervisor.first_name, supervisor.last_name = "Sam", "Reyes"
    supervisor.save()
    signature = sign(supervisor)
    signature.refresh_from_db()
    assert (signature.signer, signature.signer_username, signature.printed_name) == (supervisor, "sam", "Sam Reyes")
    assert (signature.meaning, signature.reason, signature.object_type, signature.object_id) == (
        "Approved", "QA release", "batch", "B-1042")
    assert signature.content == CONTENT and signature.signed_at is not None
    assert signature.content_hash == signature_content_hash(CONTENT) and len(signature.content_hash) == 64


def test_it_audits_the_signature_with_its_id(supervisor):
    signature = sign(supervisor)
    record = AuditRecord.objects.get(action="signature.sign")
    assert (record.username, record.object_type, record.object_id, record.reason) == (
        "sam", "batch", "B-1042", "QA release")
    assert record.new_value["signature_id"] == signature.pk
    assert record.new_value["content_hash"] == signature.content_hash
    assert PASSWORD not in str(record.new_value)


def test_it_keeps_the_printed_name_of_the_signing_time(supervisor):
    supervisor.first_name, supervisor.last_name = "Sam", "Reyes"
    supervisor.save()
    signature = sign(supervisor)
    User.objects.filter(pk=supervisor.pk).update(last_name="Ortiz")
    signature.refresh_from_db()
    assert signature.printed_name == "Sam Reyes"


def test_it_prints_the_username_when_the_account_has_no_full_name(supervisor):
    assert sign(supervisor).printed_name == "sam"


def test_it_refuses_a_wrong_password_with_403_and_stores_nothing(supervisor):
    with pytest.raises(PermissionDenied, match=r"^Signature rejected: wrong password\.$") as exc:
        sign(supervisor, password="wrong-password")
    assert exc.value.status_code == 403
    assert not Signature.objects.exists()
    assert not AuditRecord.objects.filter(action="signature.sign").exists()


def test_it_counts_a_wrong_password_toward_the_lockout(supervisor, settings, client_address):
    settings.LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        with pytest.raises(PermissionDenied):
            sign(supervisor, password="wrong-password")
    supervisor.refresh_from_db()
    assert supervisor.failed_login_count == 2
    with pytest.raises(PermissionDenied, match="Account is locked"):
        sign(supervisor)  # the right password no longer signs from this address
    assert not Signature.objects.exists()


def test_it_audits_a_refused_signature(supervisor):
    with pytest.raises(PermissionDenied):
        sign(supervisor, password="wrong-password")
    refused = AuditRecord.objects.get(action="signature.refused")
    assert (refused.username, refused.object_type, refused.object_id, refused.reason) == (
        "sam", "batch", "B-1042", "QA release")
    assert refused.new_value == {"meaning": "Approved", "status": 403, "error": "Signature rejected: wrong password."}


def test_it_refuses_a_disabled_account(supervisor):
    User.objects.filter(pk=supervisor.pk).update(is_active=False)
    supervisor.refresh_from_db()
    with pytest.raises(PermissionDenied, match="the signing account is disabled"):
        sign(supervisor)
    assert not Signature.objects.exists()


def test_it_refuses_a_role_below_the_minimum(operator):
    with pytest.raises(PermissionDenied, match="signing requires the supervisor role or higher") as exc:
        sign(operator, min_role=Role.SUPERVISOR)
    assert exc.value.status_code == 403 and not Signature.objects.exists()


def test_it_refuses_a_second_signature_by_the_same_person(supervisor):
    first = sign(supervisor, meaning="Performed")
    with pytest.raises(PermissionDenied, match=r"a second person must sign") as exc:
        sign(supervisor, meaning="Verified", require_different_from=first)
    assert exc.value.status_code == 403
    assert list(Signature.objects.values_list("pk", flat=True)) == [first.pk]


def test_the_two_person_rule_answers_409_when_the_caller_asks_for_a_conflict(supervisor):
    first = sign(supervisor, meaning="Performed")
    with pytest.raises(Conflict, match=r"a second person must sign") as exc:
        sign(supervisor, meaning="Verified", require_different_from=first, second_person_conflict=True)
    assert exc.value.status_code == 409 and Signature.objects.count() == 1
    assert AuditRecord.objects.get(action="signature.refused").new_value["status"] == 409


def test_it_accepts_the_second_signature_of_another_person(supervisor, engineer):
    first = sign(supervisor, meaning="Performed")
    second = sign(engineer, meaning="Verified", require_different_from=[first])
    assert second.signer == engineer and Signature.objects.count() == 2


@pytest.mark.parametrize(("field", "message"), [
    ("meaning", "signature: meaning contains a NUL character (\\u0000)"),
    ("password", "signature: password contains a NUL character (\\u0000)"),
    ("reason", "signature: reason contains a NUL character (\\u0000)"),
])
def test_it_refuses_a_nul_with_400(supervisor, field, message):
    args = {"password": PASSWORD, "meaning": "Approved", "reason": "QA"}
    args[field] = args[field][:2] + "\x00" + args[field][2:]
    with pytest.raises(BadRequest) as exc:
        sign(supervisor, **args)
    assert exc.value.detail == message and not Signature.objects.exists()


def test_it_refuses_an_empty_meaning_and_reason_with_400(supervisor):
    with pytest.raises(BadRequest, match=r"^signature: meaning, reason required$"):
        sign(supervisor, meaning=" ", reason="")


def test_it_refuses_a_request_signature_that_is_not_an_object():
    with pytest.raises(BadRequest, match="^signature must be an object with password, meaning and reason$"):
        signature_input_parse(["password"])


def test_it_refuses_a_request_signature_with_a_nul_in_a_field():
    with pytest.raises(BadRequest, match=r"^signature: meaning contains a NUL character \(\\u0000\)$"):
        signature_input_parse({"password": "x", "meaning": "A\x00", "reason": "r"})


def test_it_cuts_a_request_signatures_meaning_to_200_characters():
    parsed = signature_input_parse({"password": "x", "meaning": "M" * 300, "reason": "r"})
    assert parsed == {"password": "x", "meaning": "M" * 200, "reason": "r"}


def test_it_hashes_equal_content_alike_whatever_the_key_order():
    reordered = {"values": {"ok": True, "temp": 72.5}, "step": 3, "batch": "B-1042"}
    assert signature_content_hash(reordered) == signature_content_hash(CONTENT)
    assert signature_content_hash({**CONTENT, "step": 4}) != signature_content_hash(CONTENT)


def test_it_verifies_a_signature_against_its_content(supervisor):
    signature = Signature.objects.get(pk=sign(supervisor).pk)  # as read back from PostgreSQL
    assert signature_verify(signature=signature)
    assert signature_verify(signature=signature, content={"step": 3, "batch": "B-1042",
                                                          "values": {"temp": 72.5, "ok": True}})
    assert not signature_verify(signature=signature, content={**CONTENT, "step": 4})


def test_it_finds_stored_content_that_no_longer_matches_its_hash(supervisor):
    signature = sign(supervisor)
    signature.content = {**CONTENT, "step": 4}  # as someone editing the row behind the trigger's back would
    assert not signature_verify(signature=signature)


def test_it_stores_nothing_when_the_callers_transaction_rolls_back(supervisor):
    grant = signature_check(signer=supervisor, password=PASSWORD, meaning="Approved", reason="QA",
                            object_type="batch", object_id="B-1", content=CONTENT)
    with pytest.raises(RuntimeError), transaction.atomic():
        signature_record(grant=grant)
        raise RuntimeError("the record it belongs to failed")
    assert not Signature.objects.exists() and not AuditRecord.objects.filter(action="signature.sign").exists()


def test_it_refuses_update_at_the_database(supervisor):
    signature = sign(supervisor)
    with pytest.raises(DatabaseError, match="accounts_signature is append-only: UPDATE refused"), \
            transaction.atomic():
        Signature.objects.filter(pk=signature.pk).update(meaning="Rejected")
    signature.refresh_from_db()
    assert signature.meaning == "Approved"


def test_it_refuses_delete_at_the_database(supervisor):
    signature = sign(supervisor)
    with pytest.raises(DatabaseError, match="accounts_signature is append-only: DELETE refused"), \
            transaction.atomic():
        Signature.objects.filter(pk=signature.pk).delete()
    assert Signature.objects.filter(pk=signature.pk).exists()


def test_it_refuses_truncate_when_the_database_does_not_allow_it(supervisor):
    sign(supervisor)
    with pytest.raises(DatabaseError, match="accounts_signature is append-only: TRUNCATE refused"), \
            transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the signer FK's deferred check would block TRUNCATE
            cur.execute("SET LOCAL kiln.allow_audit_truncate = 'off'")
            # CASCADE: other apps' records (batches, recipes) reference signatures; the trigger must still refuse.
            cur.execute("TRUNCATE accounts_signature CASCADE")
    assert Signature.objects.count() == 1


# --- GET /api/signatures ---------------------------------------------------------------------------------

def test_it_lists_the_signatures_of_one_object_to_a_supervisor(supervisor_client, supervisor, engineer):
    first = sign(supervisor, meaning="Performed")
    second = sign(engineer, meaning="Verified", require_different_from=first)
    sign(supervisor, object_id="B-2000")
    r = supervisor_client.get("/api/signatures", {"object_type": "batch", "object_id": "B-1042"})
    assert r.status_code == 200, r.content
    rows = r.json()["results"]
    assert [row["id"] for row in rows] == [second.pk, first.pk]
    assert rows[1] == {"id": first.pk, "signer": "sam", "printed_name": "sam", "meaning": "Performed",
                       "reason": "QA release", "signed_at": rows[1]["signed_at"], "object_type": "batch",
                       "object_id": "B-1042", "content": CONTENT, "content_hash": first.content_hash,
                       "verified": True}
    assert rows[1]["signed_at"].endswith("Z")


def test_it_refuses_the_signatures_list_to_an_operator(operator_client):
    assert operator_client.get("/api/signatures").status_code == 403
