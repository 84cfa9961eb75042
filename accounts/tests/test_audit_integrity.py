"""The audit trail proves itself: canonical content that survives PostgreSQL, every break reported, downgrades
and truncation detected (seq, legacy seal, signed checkpoints)."""

import json
import math
import threading
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.audit import AuditEntry, audit_legacy_seal, audit_record, audit_record_many
from accounts.audit_hashing import GENESIS_HASH, audit_canonical, compute_hash
from accounts.audit_integrity import audit_checkpoint_create, audit_checkpoints_load, audit_verify
from accounts.models import AuditCheckpoint, AuditRecord

pytestmark = pytest.mark.django_db


def _records(n, start=0):
    return [audit_record(action="tag.write", username="olivia", object_type="tag", object_id=f"T{i}",
                         old_value=i, new_value=i + 1) for i in range(start, start + n)]


def _tamper(sql, params=()):
    """What someone with database rights can do: switch the append-only trigger off and change rows (the test's
    transaction rolls all of it back)."""
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE accounts_auditrecord DISABLE TRIGGER kiln_audit_no_update_delete")
        cur.execute(sql, params)


def _broken(report):
    return [(b.record_id, b.seq) for b in report.breaks]


def _stored(record):
    """The record as PostgreSQL gives it back."""
    return AuditRecord.objects.get(pk=record.pk)


# --- content that survives the database ----------------------------------------------------------------------

def test_it_keeps_the_chain_intact_across_a_negative_zero():
    record = audit_record(action="tag.write", new_value={"value": -0.0})
    assert _stored(record).new_value == {"value": 0.0} and not audit_verify().breaks


def test_it_stores_huge_floats_as_the_database_returns_them():
    record = audit_record(action="tag.write", new_value=[1e20, 1.5e300, 1e-7, 0.1])
    assert _stored(record).new_value == [10**20, 15 * 10**299, 1e-7, 0.1]
    assert not audit_verify().breaks


def test_it_stores_nan_and_infinity_as_strings():
    record = audit_record(action="tag.write", new_value=[math.nan, math.inf, -math.inf])
    assert _stored(record).new_value == ["NaN", "Infinity", "-Infinity"] and not audit_verify().breaks


def test_it_keeps_huge_ints_exact():
    big, huge = 7 ** 470, -(3 ** 20000)  # ~400 digits; ~9,500 digits, beyond what json reads back
    record = audit_record(action="tag.write", new_value={"big": big, "huge": huge})
    stored = _stored(record).new_value
    assert stored["big"] == big and int(stored["huge"], 16) == huge  # exact, as hexadecimal text
    assert not audit_verify().breaks


def test_it_writes_nul_in_every_text_field_as_a_visible_escape():
    record = audit_record(action="tag.write\x00", username="ol\x00ivia", object_type="t\x00", object_id="T\x001",
                          old_value={"k\x00": "v\x00"}, new_value=["\x00"], reason="why\x00not")
    stored = _stored(record)
    assert (stored.action, stored.username, stored.object_type, stored.object_id, stored.reason) == (
        "tag.write\\u0000", "ol\\u0000ivia", "t\\u0000", "T\\u00001", "why\\u0000not")
    assert (stored.old_value, stored.new_value) == ({"k\\u0000": "v\\u0000"}, ["\\u0000"])
    assert not audit_verify().breaks


def test_it_writes_lone_surrogates_as_visible_escapes():
    record = audit_record(action="tag.write", reason="a\ud800b", new_value="\udfff")
    stored = _stored(record)
    assert (stored.reason, stored.new_value) == ("a\\ud800b", "\\udfff") and not audit_verify().breaks


def test_it_shortens_an_over_long_identifier_visibly_with_its_digest():
    record = audit_record(action="tag.write", object_id="x" * 1000)
    stored = _stored(record).object_id
    assert len(stored) == 255 and stored.startswith("xxx") and "[1000 chars, sha256 " in stored
    assert not audit_verify().breaks


def test_it_records_values_json_cannot_carry():
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    record = audit_record(action="tag.write", new_value={"at": when, "set": {1}, (1, 2): "tuple key", 3: "int"})
    assert _stored(record).new_value == {"at": "2026-03-01T08:00:00+00:00", "set": "{1}", "(1, 2)": "tuple key",
                                         "3": "int"}
    assert not audit_verify().breaks


def test_it_elides_nesting_deeper_than_the_limit():
    deep = current = []
    for _ in range(500):
        current.append([])
        current = current[0]
    audit_record(action="tag.write", new_value=deep)
    assert not audit_verify().breaks


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**390, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 1e20, 1.5e300, 5e-324, 1.50])
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_json, text=st.text())
def test_it_stores_and_verifies_any_json_payload(payload, text):
    record = audit_record(action="tag.write", object_id=text, old_value=payload, new_value={"v": [payload]},
                          reason=text)
    stored = _stored(record)
    assert stored.old_value == audit_canonical(payload)
    assert audit_canonical(stored.old_value) == stored.old_value  # the canonical form is a fixed point
    assert compute_hash(stored) == record.hash
    report = audit_verify()
    assert report.breaks == [] and report.head_seq == stored.seq


def test_a_large_batch_written_by_copy_verifies_and_gets_its_ids_in_chain_order():
    # From 100 records on audit_record_many writes by COPY (a config import's tens of thousands): the stored rows
    # must hash as written, whatever the payload.
    payloads = [None, {"v": -0.0, "s": "a\x00b", "u": "\ud800"}, [1e20, 1e-7, 0.1, 2**70], {"n": {"k": [True, None]}},
                "text with \"quotes\" and \\ backslash\ttab", math.nan]
    entries = [AuditEntry(action="config.add", object_type="tags", object_id=f"T{i}", old_value=payloads[i % 6],
                          new_value=payloads[(i + 1) % 6], reason="bulk\nimport") for i in range(150)]

    records = audit_record_many(entries=entries)

    stored = {r.pk: r for r in AuditRecord.objects.filter(pk__in=[r.pk for r in records])}
    assert [stored[r.pk].seq for r in records] == [r.seq for r in records] == sorted(r.seq for r in records)
    assert all(compute_hash(stored[r.pk]) == r.hash for r in records)
    assert audit_verify().breaks == []


# --- attacks -------------------------------------------------------------------------------------------------

def test_it_reports_every_break_not_only_the_first():
    records = _records(6)
    _tamper("UPDATE accounts_auditrecord SET reason = 'edited' WHERE id IN (%s, %s)", [records[1].pk, records[4].pk])
    _tamper("DELETE FROM accounts_auditrecord WHERE id = %s", [records[2].pk])
    report = audit_verify()
    assert _broken(report) == [(records[1].pk, 2), (records[3].pk, 4), (records[4].pk, 5)]
    assert "records seq 3..3 are missing" in report.breaks[1].why


def test_it_reports_a_row_that_cannot_be_decoded_without_crashing():
    records = _records(3)
    _tamper(f"UPDATE accounts_auditrecord SET new_value = '[{'9' * 5000}]'::jsonb WHERE id = %s", [records[1].pk])
    report = audit_verify()
    assert _broken(report) == [(records[1].pk, 2)] and "new_value cannot be decoded" in report.breaks[0].why


def test_it_reports_a_record_an_old_scheme_cannot_serialize_without_crashing():
    record = _records(1)[0]
    _tamper("UPDATE accounts_auditrecord SET hash_alg = 'hmac-sha256', new_value = '1e20' WHERE id = %s",
            [record.pk])
    report = audit_verify()
    assert _broken(report) == [(record.pk, 1)] and "cannot be re-hashed under hmac-sha256" in report.breaks[0].why


def test_it_fails_a_chain_rewritten_with_plain_unkeyed_hashes():
    records = _records(4)
    prev = GENESIS_HASH
    for stored in AuditRecord.objects.order_by("seq"):  # a consistent chain anyone can compute, without the key
        stored.prev_hash, stored.hash_alg = prev, "sha256"
        stored.hash = compute_hash(stored)
        _tamper("UPDATE accounts_auditrecord SET prev_hash = %s, hash = %s, hash_alg = 'sha256' WHERE id = %s",
                [stored.prev_hash, stored.hash, stored.pk])
        prev = stored.hash
    report = audit_verify()
    assert _broken(report) == [(r.pk, r.seq) for r in records]
    assert all("no keyed legacy seal vouches for it" in b.why for b in report.breaks)


def test_it_fails_a_downgrade_from_the_current_scheme_to_the_first_keyed_one():
    records = _records(3)
    _tamper("UPDATE accounts_auditrecord SET hash_alg = 'hmac-sha256' WHERE id = %s", [records[2].pk])
    report = audit_verify()
    assert _broken(report) == [(records[2].pk, 3)] and "older hash scheme (hmac-sha256)" in report.breaks[0].why


def test_it_fails_a_renumbered_record():
    records = _records(3)
    _tamper("UPDATE accounts_auditrecord SET seq = 7 WHERE id = %s", [records[2].pk])
    report = audit_verify()
    assert _broken(report) == [(records[2].pk, 7)]
    assert "content does not match its hash" in report.breaks[0].why  # seq is hashed


def test_it_does_not_notice_deleted_newest_records_without_a_checkpoint():
    records = _records(5)
    _tamper("DELETE FROM accounts_auditrecord WHERE seq > 3")
    assert audit_verify().breaks == [] and records  # why checkpoints exist


def test_it_reports_deleted_newest_records_against_a_stored_checkpoint():
    _records(5)
    audit_checkpoint_create(export_dir="")
    _tamper("DELETE FROM accounts_auditrecord WHERE seq > 3")
    report = audit_verify()
    assert _broken(report) == [(None, 5)] and "the newest 2 records were removed" in report.breaks[0].why


def test_it_reports_deleted_newest_records_against_a_checkpoint_kept_outside(tmp_path, capsys):
    audit_record_many(entries=[AuditEntry(action="tag.write", object_id=f"T{i}") for i in range(1106 + 10)])
    audit_checkpoint_create(export_dir=str(tmp_path))
    _tamper("DELETE FROM accounts_auditrecord WHERE seq > 10")
    with connection.cursor() as cur:  # the attacker also removes the stored checkpoints
        cur.execute("ALTER TABLE accounts_auditcheckpoint DISABLE TRIGGER kiln_audit_checkpoint_no_update_delete")
        cur.execute("DELETE FROM accounts_auditcheckpoint")
    assert audit_verify().breaks == []
    with pytest.raises(CommandError, match="1 broken links"):
        call_command("audit_verify", "--checkpoint", str(tmp_path))
    assert "seq 1116: the chain ends at seq 10 but checkpoint" in capsys.readouterr().err


def test_it_reports_a_record_that_differs_from_its_checkpoint(tmp_path):
    records = _records(3)
    audit_checkpoint_create(export_dir=str(tmp_path))
    _tamper("UPDATE accounts_auditrecord SET hash = %s WHERE id = %s", ["e" * 64, records[2].pk])
    report = audit_verify(checkpoints=audit_checkpoints_load(path=str(tmp_path)))
    assert _broken(report) == [(records[2].pk, 3)]
    assert report.breaks[0].why.count("recorded another hash for seq 3") == 2  # the stored one and the file


def test_it_refuses_a_forged_checkpoint(tmp_path):
    _records(2)
    checkpoint, _ = audit_checkpoint_create(export_dir="")
    file = tmp_path / "cp.json"
    file.write_text(json.dumps({"seq": 2, "hash": checkpoint.hash, "ts": checkpoint.ts, "sig": "0" * 64}))
    report = audit_verify(checkpoints=audit_checkpoints_load(path=str(file)))
    assert _broken(report) == [(None, 2)] and "bad signature" in report.breaks[0].why


def test_it_reports_an_unreadable_checkpoint_file(tmp_path):
    (tmp_path / "cp.json").write_text("{not json")
    report = audit_verify(checkpoints=audit_checkpoints_load(path=str(tmp_path / "cp.json")) +
                          audit_checkpoints_load(path=str(tmp_path / "missing.json")))
    assert len(report.breaks) == 2 and all("cannot be read" in b.why for b in report.breaks)


# --- records from before keyed hashing -----------------------------------------------------------------------

def _legacy(n):
    """Records as the first Kiln wrote them: plain SHA-256, seq backfilled by migration accounts 0004."""
    prev = GENESIS_HASH
    for i in range(n):
        old = AuditRecord(seq=i + 1, ts=datetime(2026, 1, 1, i, tzinfo=UTC), username="admin", action="tag.write",
                          object_type="tag", object_id=f"OLD{i}", prev_hash=prev, hash_alg="sha256")
        old.hash = compute_hash(old)
        old.save()
        prev = old.hash


def test_it_accepts_an_unkeyed_prefix_a_keyed_seal_vouches_for(capsys):
    _legacy(2)
    seal = audit_legacy_seal()
    _records(1)
    assert seal.new_value["unkeyed_records"] == 2 and seal.seq == 3
    report = audit_verify()
    assert (report.breaks, report.unkeyed, report.checked) == ([], 2, 4)
    call_command("audit_verify")
    assert "2 records predate keyed hashing" in capsys.readouterr().out


def test_it_refuses_an_unkeyed_prefix_without_a_seal():
    _legacy(2)
    report = audit_verify()
    assert [b.seq for b in report.breaks] == [1, 2]


def test_it_refuses_an_unkeyed_prefix_rewritten_after_the_seal():
    _legacy(2)
    audit_legacy_seal()
    first = AuditRecord.objects.get(seq=1)
    first.object_id = "REWRITTEN"
    first.hash = compute_hash(first)
    second = AuditRecord.objects.get(seq=2)
    second.prev_hash = first.hash
    second.hash = compute_hash(second)
    for r in (first, second):
        _tamper("UPDATE accounts_auditrecord SET object_id = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [r.object_id, r.prev_hash, r.hash, r.pk])
    report = audit_verify()
    assert [b.seq for b in report.breaks] == [2, 3]  # the prefix is not the sealed one; the seal's link breaks
    assert "not the ones the legacy seal vouches for" in report.breaks[0].why


def test_it_writes_no_seal_when_there_are_no_unkeyed_records():
    _records(1)
    assert audit_legacy_seal() is None and AuditRecord.objects.count() == 1


# --- checkpoints -------------------------------------------------------------------------------------------

def test_it_exports_a_signed_checkpoint_of_the_head(tmp_path, capsys):
    records = _records(2)
    call_command("audit_checkpoint", "--dir", str(tmp_path), "--output", str(tmp_path / "copy.txt"))
    line = json.loads(capsys.readouterr().out)
    assert (line["seq"], line["hash"]) == (2, records[1].hash)
    assert json.loads((tmp_path / "audit-checkpoint-000000000002.json").read_text()) == line
    assert json.loads((tmp_path / "copy.txt").read_text()) == line
    assert AuditCheckpoint.objects.get().seq == 2


def test_it_stores_one_checkpoint_per_head():
    _records(1)
    audit_checkpoint_create(export_dir="")
    audit_checkpoint_create(export_dir="")
    _records(1, start=1)
    audit_checkpoint_create(export_dir="")
    assert list(AuditCheckpoint.objects.values_list("seq", flat=True)) == [2, 1]


def test_it_checkpoints_from_the_periodic_task(tmp_path, settings):
    from accounts.tasks import audit_checkpoint_task

    settings.KILN_AUDIT_CHECKPOINT_DIR = str(tmp_path)
    _records(3)
    audit_checkpoint_task.apply()
    assert AuditCheckpoint.objects.get().seq == 3 and (tmp_path / "audit-checkpoint-000000000003.json").exists()


def test_it_refuses_to_delete_a_checkpoint_at_the_database():
    audit_checkpoint_create(export_dir="")
    with pytest.raises(DatabaseError, match="accounts_auditcheckpoint is append-only: DELETE refused"):
        with transaction.atomic():
            AuditCheckpoint.objects.all().delete()


# --- the migration -----------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_it_numbers_and_seals_the_records_of_an_existing_trail():
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0003_auditrecord_hash_alg")])
    old_model = executor.loader.project_state([("accounts", "0003_auditrecord_hash_alg")]).apps.get_model(
        "accounts", "AuditRecord")
    prev = GENESIS_HASH
    for i, alg in enumerate(["sha256", "sha256", "hmac-sha256"]):  # two from before keyed hashing, one after
        row = old_model(ts=datetime(2026, 1, 1, i, tzinfo=UTC), username="admin", action="tag.write",
                        object_type="tag", object_id=f"OLD{i}", prev_hash=prev, hash_alg=alg, reason="")
        row.hash = compute_hash(row)
        row.save()
        prev = row.hash
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert list(AuditRecord.objects.order_by("id").values_list("seq", "hash_alg")) == [
        (1, "sha256"), (2, "sha256"), (3, "hmac-sha256"), (4, "hmac-sha256-v2")]
    assert AuditRecord.objects.get(seq=4).new_value["unkeyed_records"] == 2
    report = audit_verify()
    assert (report.breaks, report.unkeyed) == ([], 2)


@pytest.mark.django_db(transaction=True)
def test_it_numbers_concurrent_writers_without_gaps_even_when_some_roll_back():
    errors = []

    class Abandon(Exception):
        pass

    def writer(i):
        try:
            for j in range(10):
                try:
                    with transaction.atomic():
                        audit_record(action="tag.write", object_id=f"W{i}-{j}")
                        if j % 3 == 0:
                            raise Abandon  # the change it described failed: the record goes with it
                except Abandon:
                    pass
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert list(AuditRecord.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 4 * 6 + 1))
    assert audit_verify().breaks == []
