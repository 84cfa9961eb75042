"""The audit trail: hash chain and audit_verify, the append-only trigger, and the audit API."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from accounts.audit import audit_record
from accounts.audit_hashing import GENESIS_HASH
from accounts.audit_integrity import audit_verify
from accounts.models import AuditRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(admin_user):
    return [audit_record(action="tag.write", user=admin_user, object_type="tag", object_id=f"T{i}",
                         old_value=i, new_value=i + 1, reason="test") for i in range(3)]


def test_it_chains_each_record_to_the_one_before(chain):
    assert chain[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in chain[1:]] == [r.hash for r in chain[:-1]]
    assert [r.seq for r in chain] == [1, 2, 3]
    report = audit_verify()
    assert (report.checked, report.breaks, report.head_seq) == (3, [], 3)


def test_it_reports_an_intact_chain(chain, capsys):
    call_command("audit_verify")
    assert "Audit trail intact: 3 records checked, head at seq 3" in capsys.readouterr().out


def test_it_reports_an_altered_record(chain, capsys):
    # Tamper the way an attacker with database rights would: drop the trigger, edit, all rolled back after.
    with pytest.raises(CommandError, match="NOT intact: 3 records checked.* 1 broken links"):
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("ALTER TABLE accounts_auditrecord DISABLE TRIGGER kiln_audit_no_update_delete")
                cur.execute("UPDATE accounts_auditrecord SET new_value = '99' WHERE id = %s", [chain[1].pk])
            call_command("audit_verify")
    assert f"record #{chain[1].pk} (seq 2): its content does not match its hash" in capsys.readouterr().err


def test_it_reports_a_removed_record(chain):
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("ALTER TABLE accounts_auditrecord DISABLE TRIGGER kiln_audit_no_update_delete")
            cur.execute("DELETE FROM accounts_auditrecord WHERE id = %s", [chain[1].pk])
        report = audit_verify()
        transaction.set_rollback(True)
    assert [(b.record_id, b.seq) for b in report.breaks] == [(chain[2].pk, 3)]
    assert "records seq 2..2 are missing" in report.breaks[0].why and "prev_hash does not match" in report.breaks[0].why


def test_it_reports_a_forged_record(chain):
    forged = AuditRecord.objects.create(seq=4, ts=datetime.now(UTC), username="mallory", action="user.update",
                                        prev_hash=chain[-1].hash, hash="f" * 64)
    report = audit_verify()
    assert report.checked == 4 and [(b.record_id, b.seq) for b in report.breaks] == [(forged.pk, 4)]
    assert "content does not match its hash" in report.breaks[0].why


def test_it_refuses_update_at_the_database(chain):
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditRecord.objects.filter(pk=chain[0].pk).update(reason="edited")


def test_it_refuses_delete_at_the_database(chain):
    with pytest.raises(DatabaseError, match="append-only: DELETE refused"), transaction.atomic():
        AuditRecord.objects.filter(pk=chain[0].pk).delete()


def test_it_refuses_truncate_when_the_database_does_not_allow_it(chain):
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL kiln.allow_audit_truncate = 'off'")
            cur.execute("TRUNCATE accounts_auditrecord")
    assert AuditRecord.objects.count() == 3


def test_it_records_request_id_and_client_ip_from_the_request(admin_client):
    admin_client.post("/api/users", {"username": "nina", "password": "long-enough-pw", "role": "operator"},
                      format="json", HTTP_X_REQUEST_ID="req-42", REMOTE_ADDR="10.1.2.3")
    record = AuditRecord.objects.get(action="user.create")
    assert (record.request_id, record.client_ip) == ("req-42", "10.1.2.3")


# --- GET /api/audit ---------------------------------------------------------------------------------------

def _ids(response):
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


@pytest.fixture
def trail(admin_user, operator):
    with time_machine.travel(datetime(2026, 3, 1, 8, 0, tzinfo=UTC), tick=False):
        a = audit_record(action="tag.write", user=operator, object_type="tag", object_id="TIC-101")
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False):
        b = audit_record(action="alarm.ack", user=operator, object_type="alarm", object_id="7")
    with time_machine.travel(datetime(2026, 3, 3, 8, 0, tzinfo=UTC), tick=False):
        c = audit_record(action="user.update", user=admin_user, object_type="user", object_id=str(operator.pk))
    return a, b, c


def test_it_lists_the_trail_newest_first(admin_client, trail):
    assert _ids(admin_client.get("/api/audit")) == [trail[2].pk, trail[1].pk, trail[0].pk]


def test_it_filters_by_user(admin_client, trail):
    assert _ids(admin_client.get("/api/audit?user=olivia")) == [trail[1].pk, trail[0].pk]


def test_it_filters_by_action(admin_client, trail):
    assert _ids(admin_client.get("/api/audit?action=alarm.ack")) == [trail[1].pk]


def test_it_filters_by_object(admin_client, trail):
    assert _ids(admin_client.get("/api/audit?object_type=tag&object_id=TIC-101")) == [trail[0].pk]


def test_it_filters_by_date_range(admin_client, trail):
    r = admin_client.get("/api/audit", {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"})
    assert _ids(r) == [trail[1].pk]


def test_it_paginates(admin_client, trail):
    body = admin_client.get("/api/audit?limit=2&offset=1").json()
    assert (body["count"], body["limit"], body["offset"]) == (3, 2, 1)
    assert [r["id"] for r in body["results"]] == [trail[1].pk, trail[0].pk]


def test_it_rejects_a_bad_date_filter(admin_client, trail):
    r = admin_client.get("/api/audit?start=yesterday")
    assert r.status_code == 400
    assert r.json()["detail"].startswith("start:")


def test_it_rejects_a_limit_above_the_maximum(admin_client, trail):
    r = admin_client.get("/api/audit?limit=5000")
    assert r.status_code == 400
    assert r.json() == {"detail": "limit must be between 1 and 1000"}


def test_it_shows_one_record(admin_client, trail):
    r = admin_client.get(f"/api/audit/{trail[0].pk}")
    assert r.status_code == 200
    body = r.json()
    assert body["ts"] == "2026-03-01T08:00:00Z"
    assert (body["username"], body["action"], body["object_id"]) == ("olivia", "tag.write", "TIC-101")
    assert body["hash"] == trail[0].hash


def test_it_answers_404_for_an_unknown_record(admin_client):
    r = admin_client.get("/api/audit/999999")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}


# --- keyed hashes -----------------------------------------------------------------------------------------------

def _forge(record_id, **changes):
    """What someone with database rights but not the audit key can do: edit a row and recompute its hash."""
    from accounts.audit_hashing import compute_hash

    record = AuditRecord.objects.get(pk=record_id)
    for field, value in changes.items():
        setattr(record, field, value)
    unkeyed = AuditRecord(**{f.attname: getattr(record, f.attname) for f in AuditRecord._meta.concrete_fields})
    unkeyed.hash_alg = "sha256"
    digest = compute_hash(unkeyed)  # plain SHA-256 of the edited content: the best one can do without the key
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE accounts_auditrecord DISABLE TRIGGER kiln_audit_no_update_delete")
        cur.execute("UPDATE accounts_auditrecord SET new_value = %s, hash = %s, hash_alg = %s WHERE id = %s",
                    [str(changes.get("new_value")), digest, changes.get("hash_alg", record.hash_alg), record_id])


def test_it_keys_every_new_hash_with_the_audit_key(chain, settings):
    from accounts.audit_hashing import compute_hash

    assert {r.hash_alg for r in chain} == {"hmac-sha256-v2"}
    assert compute_hash(chain[0]) == chain[0].hash
    unkeyed = AuditRecord(**{f.attname: getattr(chain[0], f.attname) for f in AuditRecord._meta.concrete_fields})
    unkeyed.hash_alg = "sha256"
    assert compute_hash(unkeyed) != chain[0].hash  # not the plain digest anyone could recompute
    settings.KILN_AUDIT_KEY = "another key"
    assert compute_hash(chain[0]) != chain[0].hash  # and it depends on the key


def test_it_finds_a_record_rewritten_without_the_key(chain):
    with transaction.atomic():
        _forge(chain[2].pk, new_value=99)  # keeps hash_alg hmac-sha256-v2 but cannot compute the HMAC
        report = audit_verify()
        transaction.set_rollback(True)
    assert [b.record_id for b in report.breaks] == [chain[2].pk]
    assert "content does not match its hash" in report.breaks[0].why


def test_it_refuses_an_unkeyed_record_after_keyed_ones(chain):
    with transaction.atomic():
        _forge(chain[2].pk, new_value=99, hash_alg="sha256")  # claims to predate keyed hashing
        report = audit_verify()
        transaction.set_rollback(True)
    assert [b.record_id for b in report.breaks] == [chain[2].pk]
    assert "older hash scheme (sha256) after newer ones" in report.breaks[0].why


def test_it_says_which_key_to_check_when_the_key_changed(chain, settings):
    settings.KILN_AUDIT_KEY = "a key that is not the one the trail was written with"
    report = audit_verify()
    assert [b.record_id for b in report.breaks] == [r.pk for r in chain]  # every record, not only the first
    assert "KILN_AUDIT_KEY" in report.breaks[0].why


@pytest.mark.postgresql
def test_bulk_records_chain_on_and_store_their_canonical_content_as_the_one_by_one_path_does():
    """audit_record_bulk (config imports: COPY, no model instances) writes the chain audit_record_many writes."""
    from accounts.audit import AuditEntry, audit_record_bulk
    from accounts.audit_hashing import audit_canonical

    first = audit_record(action="config.import", object_type="config")
    odd = [{"n": 2 ** 100, "x": -0.0, "big": 1e20, "nan": float("nan")}, "nul\x00", "\udfff", {"é": [1, 2.5, None]}]
    written = audit_record_bulk(entries=[AuditEntry(action="config.add", object_type="tags", object_id=f"T{i}",
                                                    new_value=value, reason="bulk")
                                         for i, value in enumerate(odd)])
    rows = list(AuditRecord.objects.filter(seq__gt=first.seq).order_by("seq"))
    assert written == len(odd) and [r.seq for r in rows] == [first.seq + 1 + i for i in range(len(odd))]
    assert rows[0].prev_hash == first.hash
    assert [r.new_value for r in rows] == [audit_canonical(v) for v in odd]
    assert not audit_verify().breaks
