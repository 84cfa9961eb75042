"""Batch REST API (seed 000 BATCH ENDPOINTS plus the forms' routes): roles, status codes, details, no half-writes."""

import pytest

from accounts.models import AuditRecord
from batches.models import Batch
from batches.tests.conftest import signature

pytestmark = pytest.mark.django_db

START = {"recipe": "reactor-heat-cycle", "machine_id": "reactor-01", "lot": "L-7", "parameters": {"target_temp": 90}}


@pytest.fixture
def started(approved_recipe, supervisor_client):
    response = supervisor_client.post("/api/batches/start", START, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_start_answers_201_with_the_record(started):
    assert started["status"] == "running" and started["lot"] == "L-7" and started["current_phase"] == 1
    assert [p["actual"] for p in started["parameters"] if p["name"] == "target_temp"] == [90.0]
    assert started["recipe"]["name"] == "reactor-heat-cycle" and started["recipe"]["version"] == 1


def test_an_operator_cannot_start_a_batch(approved_recipe, operator_client):
    response = operator_client.post("/api/batches/start", START, format="json")
    assert response.status_code == 403 and not Batch.objects.exists()


@pytest.mark.parametrize(("change", "code", "text"), [
    ({"recipe": "nope"}, 404, "Recipe 'nope' not found"),
    ({"machine_id": "nope"}, 404, "Machine 'nope' not found"),
    ({"parameters": {"target_temp": 500}}, 422, "target_temp"),
    ({"parameters": {"target_temp": "hot"}}, 422, "target_temp"),
    ({"parameters": {"bogus": 1}}, 422, "bogus"),
    ({"lot": ""}, 400, "lot"),
    ({"parameters": [1]}, 400, "parameters"),
    ({"extra": 1}, 400, "extra"),
])
def test_bad_starts_are_refused_with_a_clear_detail_and_write_nothing(approved_recipe, supervisor_client, change,
                                                                      code, text):
    response = supervisor_client.post("/api/batches/start", {**START, **change}, format="json")
    assert response.status_code == code and text in str(response.json()["detail"])
    assert not Batch.objects.exists() and not AuditRecord.objects.filter(action="tag.write").exists()


def test_a_draft_recipe_is_409(draft_recipe, supervisor_client):
    response = supervisor_client.post("/api/batches/start", START, format="json")
    assert response.status_code == 409 and "approved" in response.json()["detail"]


def test_a_machine_already_running_a_batch_is_409(started, supervisor_client):
    response = supervisor_client.post("/api/batches/start", {**START, "lot": "L-8"}, format="json")
    assert response.status_code == 409 and "already running" in response.json()["detail"]


def test_the_list_filters_by_status_recipe_machine_lot_and_start(started, operator_client):
    assert operator_client.get("/api/batches").json()["results"][0]["id"] == started["id"]
    for query, count in [("status=running", 1), ("status=closed", 0), ("recipe=reactor-heat-cycle", 1),
                         ("machine=reactor-01", 1), ("lot=L-7", 1), ("lot=L-8", 0),
                         ("start=2000-01-01T00:00:00Z", 1), ("end=2000-01-01T00:00:00Z", 0)]:
        assert len(operator_client.get(f"/api/batches?{query}").json()["results"]) == count, query


def test_a_bad_filter_is_400(operator_client):
    assert operator_client.get("/api/batches?status=sideways").status_code == 400
    assert operator_client.get("/api/batches?start=yesterday").status_code == 400


def test_the_detail_is_the_ebr_and_an_unknown_batch_is_404(started, operator_client):
    ebr = operator_client.get(f"/api/batches/{started['id']}").json()
    assert {"parameters", "phases", "evidence", "signatures", "record_hash"} <= set(ebr)
    response = operator_client.get("/api/batches/999999")
    assert response.status_code == 404 and response.json()["detail"] == "Batch 999999 not found"


def _run_phases(client, batch_id):
    assert client.post(f"/api/batches/{batch_id}/phases/1/confirm", {}, format="json").status_code == 200
    assert client.post(f"/api/batches/{batch_id}/phases/2/confirm", format="json").status_code == 200
    response = client.post(f"/api/batches/{batch_id}/phases/3/enter", {"value": 42}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_an_operator_follows_the_phases_to_completion(started, operator_client):
    ebr = _run_phases(operator_client, started["id"])
    assert ebr["status"] == "complete" and ebr["phases"][2]["value"] == 42.0
    assert ebr["phases"][0]["completed_by"] == "olivia"


def test_a_phase_out_of_turn_is_409_and_a_bad_value_422(started, operator_client):
    assert operator_client.post(f"/api/batches/{started['id']}/phases/3/enter", {"value": 1},
                                format="json").status_code == 409
    assert operator_client.post(f"/api/batches/{started['id']}/phases/9/confirm").status_code == 404
    operator_client.post(f"/api/batches/{started['id']}/phases/1/confirm")
    operator_client.post(f"/api/batches/{started['id']}/phases/2/confirm")
    response = operator_client.post(f"/api/batches/{started['id']}/phases/3/enter", {"value": 99}, format="json")
    assert response.status_code == 422 and "Final temperature" in response.json()["detail"]


def test_the_supervisor_closes_with_a_signature_and_gets_the_manifest(started, operator_client,
                                                                     supervisor_client):
    _run_phases(operator_client, started["id"])
    response = supervisor_client.post(f"/api/batches/{started['id']}/close", {"signature": signature()},
                                      format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "closed"
    [close] = [s for s in body["signatures"] if s["kind"] == "close"]
    assert close["meaning"] == "Reviewed and released" and close["valid"] is True and close["signer"] == "sam"


def test_close_with_a_wrong_password_is_403_and_closes_nothing(started, operator_client, supervisor_client):
    _run_phases(operator_client, started["id"])
    response = supervisor_client.post(f"/api/batches/{started['id']}/close",
                                      {"signature": signature(password="nope")}, format="json")
    assert response.status_code == 403
    assert Batch.objects.get(pk=started["id"]).status == "complete"


def test_closing_a_closed_batch_is_409(started, operator_client, supervisor_client):
    _run_phases(operator_client, started["id"])
    supervisor_client.post(f"/api/batches/{started['id']}/close", {"signature": signature()}, format="json")
    response = supervisor_client.post(f"/api/batches/{started['id']}/close", {"signature": signature()},
                                      format="json")
    assert response.status_code == 409 and "already closed" in response.json()["detail"]


def test_the_same_person_as_second_signer_is_409(started, operator_client, supervisor_client, approved_recipe):
    type(approved_recipe).objects.filter(pk=approved_recipe.pk).update(requires_verification=True)
    _run_phases(operator_client, started["id"])
    url = f"/api/batches/{started['id']}/close"
    assert supervisor_client.post(url, {"signature": signature()}, format="json").json()["status"] == "complete"
    response = supervisor_client.post(url, {"signature": signature(meaning="Verified by")}, format="json")
    assert response.status_code == 409 and "second person" in response.json()["detail"]


def test_a_malformed_signature_is_400(started, supervisor_client):
    for body in [{"signature": "pw"}, {"signature": {"password": "x"}}, {}]:
        assert supervisor_client.post(f"/api/batches/{started['id']}/close", body,
                                      format="json").status_code == 400


def test_an_operator_cannot_close_or_abort(started, operator_client):
    assert operator_client.post(f"/api/batches/{started['id']}/close", {"signature": signature()},
                                format="json").status_code == 403
    assert operator_client.post(f"/api/batches/{started['id']}/abort", {"reason": "x"},
                                format="json").status_code == 403


def test_abort_comments_and_deviations_over_rest(started, operator_client, supervisor_client):
    url = f"/api/batches/{started['id']}"
    assert operator_client.post(f"{url}/comments", {"text": "ok", "phase": 1}, format="json").status_code == 201
    response = operator_client.post(f"{url}/deviations", {"description": "late", "severity": "major"},
                                    format="json")
    assert response.status_code == 201 and response.json()["deviations"][0]["severity"] == "major"
    assert operator_client.post(f"{url}/deviations", {"description": "x", "severity": "huge"},
                                format="json").status_code == 400
    response = supervisor_client.post(f"{url}/abort", {"reason": "agitator tripped"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "aborted"
    assert supervisor_client.post(f"{url}/abort", {"reason": "again"}, format="json").status_code == 409


def test_unauthenticated_is_401(api_client):
    assert api_client.get("/api/batches").status_code == 401


def test_recipes_are_listed_with_their_definition_and_approval(approved_recipe, operator_client):
    body = operator_client.get("/api/recipes?status=approved&machine=reactor-01").json()
    [recipe] = body["results"]
    assert (recipe["name"], recipe["version"], recipe["status"]) == ("reactor-heat-cycle", 1, "approved")
    assert [p["name"] for p in recipe["phases"]] == ["heat", "hold", "cool"]
    assert recipe["parameters"][0]["target_tag"] == "Reactor_Temp_SP"
    assert recipe["approval"]["signer"] == "erin" and recipe["approval"]["valid"] is True
    assert operator_client.get("/api/recipes?status=draft").json()["results"] == []


def test_one_recipe_and_an_unknown_one(approved_recipe, operator_client):
    assert operator_client.get(f"/api/recipes/{approved_recipe.pk}").json()["id"] == approved_recipe.pk
    response = operator_client.get("/api/recipes/999999")
    assert response.status_code == 404 and response.json()["detail"] == "Recipe 999999 not found"


def test_recipes_are_read_only_over_rest(approved_recipe, admin_client_api):
    assert admin_client_api.post("/api/recipes", {"name": "x"}, format="json").status_code == 405
