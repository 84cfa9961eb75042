"""E-signed tag writes make a Part 11 Signature (accounts.signatures), named by the write's audit records."""

import pytest

from accounts.models import AuditRecord, Signature
from accounts.signatures import signature_verify
from conftest import PASSWORD
from scada.errors import Conflict, PermissionDenied
from tags.models import Tag
from tags.services import WriteUnavailable, tag_write, tag_write_apply, tag_write_check

pytestmark = pytest.mark.django_db

SIGNATURE = {"password": PASSWORD, "meaning": "Approved", "reason": "QA release"}


@pytest.fixture
def release(make_tag):
    return make_tag("Batch_Release", datatype="BOOL", is_writable=True, requires_signature=True)


def test_it_stores_a_signature_for_an_e_signed_write(release, supervisor):
    tag_write(tag=release, value=True, user=supervisor, signature=SIGNATURE)
    signature = Signature.objects.get()
    assert (signature.signer, signature.meaning, signature.reason) == (supervisor, "Approved", "QA release")
    assert (signature.object_type, signature.object_id) == ("tag", "Batch_Release")
    assert signature.content == {"tag": "Batch_Release", "value": True, "quality": None, "timestamp": None}
    assert signature_verify(signature=signature, content=signature.content)


def test_it_links_the_signature_from_the_writes_audit_record(release, supervisor):
    result = tag_write(tag=release, value=True, user=supervisor, signature=SIGNATURE)
    record = AuditRecord.objects.get(pk=result.audit_id)
    signature = Signature.objects.get()
    assert record.new_value["signature"]["signature_id"] == signature.pk
    assert record.new_value["signature"]["signed_at"] == signature.signed_at.isoformat()
    sign_record = AuditRecord.objects.get(action="signature.sign")
    assert sign_record.new_value["signature_id"] == signature.pk and sign_record.seq < record.seq


def test_it_stores_the_signature_with_the_attempt_before_the_plc_is_written(release, supervisor, plc_router):
    router = plc_router([release])
    result = tag_write(tag=release, value=True, user=supervisor, signature=SIGNATURE)
    assert router.writes == [("Batch_Release", True)]
    signature = Signature.objects.get()
    attempt = AuditRecord.objects.get(action="tag.write_attempt")
    assert attempt.new_value["signature"]["signature_id"] == signature.pk
    assert AuditRecord.objects.get(pk=result.audit_id).new_value["signature"]["signature_id"] == signature.pk
    assert AuditRecord.objects.get(action="signature.sign").seq < attempt.seq


def test_it_stores_no_signature_when_the_attempt_cannot_be_recorded(release, supervisor, plc_router):
    from tests.fixtures import audit_insert_fails

    router = plc_router([release])
    with audit_insert_fails("tag.write_attempt"), pytest.raises(WriteUnavailable):
        tag_write(tag=release, value=True, user=supervisor, signature=SIGNATURE)
    assert router.writes == [] and not Signature.objects.exists()


def test_it_stores_no_signature_for_a_wrong_password(release, supervisor):
    with pytest.raises(PermissionDenied, match="wrong password"):
        tag_write(tag=release, value=True, user=supervisor, signature={**SIGNATURE, "password": "nope"})
    assert not Signature.objects.exists()
    assert AuditRecord.objects.get(action="signature.refused").new_value["status"] == 403


def test_it_stores_no_signature_when_the_write_is_rolled_back(release, supervisor):
    plan = tag_write_check(tag=release, value=True, user=supervisor, signature=SIGNATURE)
    Tag.objects.filter(pk=release.pk).update(is_active=False)  # switched off between check and write
    with pytest.raises(Conflict):
        tag_write_apply(plan=plan, user=supervisor)
    assert not Signature.objects.exists() and not AuditRecord.objects.filter(action="signature.sign").exists()


def test_it_signs_an_http_write_as_the_account_behind_the_token(supervisor_client, supervisor, release):
    r = supervisor_client.post("/api/tags/Batch_Release/write", {"value": True, "signature": SIGNATURE},
                               format="json")
    assert r.status_code == 200, r.content
    signature = Signature.objects.get()
    assert signature.signer == supervisor and signature.signer_username == "sam"
    record = AuditRecord.objects.get(pk=r.json()["tag"]["audit_id"])
    assert record.new_value["signature"]["signature_id"] == signature.pk
