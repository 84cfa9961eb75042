"""accounts.selectors: what other apps may read of signatures and the audit trail."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.audit import audit_record
from accounts.selectors import audit_records_between, signature_dict, signatures_for
from accounts.signatures import signature_sign
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _sign(user, object_id="7", content=None):
    return signature_sign(signer=user, password=PASSWORD, meaning="Reviewed", reason="end of batch",
                          object_type="batch", object_id=object_id, content=content or {"batch": object_id})


def test_signatures_for_lists_an_objects_signatures_oldest_first(supervisor, engineer):
    first, second = _sign(supervisor), _sign(engineer)
    _sign(supervisor, object_id="8")
    assert [s.pk for s in signatures_for(object_type="batch", object_ids=["7"])] == [first.pk, second.pk]


def test_signature_dict_shows_name_time_meaning_and_validity(supervisor):
    supervisor.first_name, supervisor.last_name = "Sam", "Reyes"
    supervisor.save()
    row = signature_dict(_sign(supervisor), content={"batch": "7"})
    assert (row["printed_name"], row["meaning"], row["valid"]) == ("Sam Reyes", "Reviewed", True)
    assert row["signed_at"].endswith("Z")


def test_signature_dict_shows_a_signature_invalid_for_changed_content(supervisor):
    assert signature_dict(_sign(supervisor), content={"batch": "7", "edited": True})["valid"] is False


def test_audit_records_between_keeps_to_the_window_and_the_objects(supervisor):
    start = timezone.now()
    inside = audit_record(action="tag.write", user=supervisor, object_type="tag", object_id="A")
    audit_record(action="tag.write", user=supervisor, object_type="tag", object_id="B")
    rows = audit_records_between(start=start, end=timezone.now(), object_type="tag", object_ids=["A"])
    assert [r.pk for r in rows] == [inside.pk]
    assert audit_records_between(start=timezone.now() + timedelta(seconds=1), end=None) == []
