"""Refused batch and recipe actions leave an audit record (Part 11 attempts); 400s and successes do not."""

import pytest

from accounts.models import AuditRecord
from batches.models import Batch
from batches.tests.conftest import signature

pytestmark = pytest.mark.django_db

START = {"recipe": "reactor-heat-cycle", "machine_id": "reactor-01", "lot": "L-7", "parameters": {"target_temp": 90}}


def _refusals(action):
    return list(AuditRecord.objects.filter(action=action).order_by("id"))


def test_a_start_refused_as_out_of_range_is_audited_with_who_and_what(approved_recipe, supervisor, supervisor_client):
    response = supervisor_client.post("/api/batches/start", {**START, "parameters": {"target_temp": 500}},
                                      format="json")
    assert response.status_code == 422
    [record] = _refusals("batch.start_refused")
    assert record.username == supervisor.username and record.object_type == "batch"
    assert record.new_value["status"] == 422 and "target_temp" in record.new_value["error"]
    assert record.new_value["recipe"] == "reactor-heat-cycle" and record.new_value["lot"] == "L-7"
    assert not Batch.objects.exists()


def test_a_start_of_a_draft_recipe_is_audited_as_refused(draft_recipe, supervisor_client):
    assert supervisor_client.post("/api/batches/start", START, format="json").status_code == 409
    assert _refusals("batch.start_refused")[0].new_value["status"] == 409


def test_malformed_input_and_a_successful_start_leave_no_refusal(approved_recipe, supervisor_client):
    assert supervisor_client.post("/api/batches/start", {**START, "lot": ""}, format="json").status_code == 400
    assert supervisor_client.post("/api/batches/start", START, format="json").status_code == 201
    assert not AuditRecord.objects.filter(action__endswith="_refused").exclude(action="tag.write_refused").exists()


def test_a_phase_completed_the_wrong_way_is_audited_against_its_batch(approved_recipe, supervisor_client,
                                                                      operator_client):
    batch = supervisor_client.post("/api/batches/start", START, format="json").json()
    response = operator_client.post(f"/api/batches/{batch['id']}/phases/1/enter", {"value": 1}, format="json")
    assert response.status_code == 409
    [record] = _refusals("batch.phase_refused")
    assert record.object_id == str(batch["id"]) and record.new_value["phase"] == 1
    assert "confirm" in record.new_value["error"]


def test_closing_a_running_batch_and_aborting_twice_are_audited(approved_recipe, supervisor_client):
    batch = supervisor_client.post("/api/batches/start", START, format="json").json()
    assert supervisor_client.post(f"/api/batches/{batch['id']}/close", {"signature": signature()},
                                  format="json").status_code == 409
    for expected in (200, 409):
        assert supervisor_client.post(f"/api/batches/{batch['id']}/abort", {"reason": "trial"},
                                      format="json").status_code == expected
    assert [r.new_value["status"] for r in _refusals("batch.close_refused")] == [409]
    assert [r.new_value["status"] for r in _refusals("batch.abort_refused")] == [409]
