"""The OpenAPI schema at /api/schema/ tells the truth: every status a route answers, every constraint it enforces."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from scada.api.matrix import PUBLIC, ROUTE_ROLES

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_it_lists_401_and_403_on_every_operation_that_needs_a_token(schema):
    missing = [f"{m.upper()} {p}" for p, m, op in _operations(schema)
               if op.get("security") and not {"401", "403"} <= set(op["responses"])]
    assert missing == []


def test_it_marks_exactly_the_public_routes_of_the_matrix_as_needing_no_token(schema):
    public = sorted(f"{m.upper()} {p}" for p, m, op in _operations(schema) if not op.get("security"))
    assert public == ["GET /api/system/health", "POST /api/auth/login", "POST /api/auth/refresh"]
    assert all(ROUTE_ROLES[name]["POST"] is PUBLIC for name in ("accounts-api:auth-login", "accounts-api:auth-refresh"))


def test_it_lists_404_on_every_operation_with_a_path_parameter(schema):
    missing = [f"{m.upper()} {p}" for p, m, op in _operations(schema) if "{" in p and "404" not in op["responses"]]
    assert missing == []


def test_it_lists_400_and_415_on_every_operation_with_a_json_body(schema):
    missing = [f"{m.upper()} {p}" for p, m, op in _operations(schema)
               if "requestBody" in op and not {"400", "415"} <= set(op["responses"])]
    assert missing == []


def test_it_gives_every_shared_error_the_detail_body(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    tag_get = schema["paths"]["/api/tags/{name}"]["get"]["responses"]["404"]
    assert tag_get["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_it_gives_the_device_api_errors_seed_004s_error_body(schema):
    response = schema["paths"]["/api/sites/{site_id}/devices"]["get"]["responses"]["401"]
    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/DeviceError")


def test_it_states_the_list_limit_bounds(schema):
    limit = next(p for p in schema["paths"]["/api/users"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 1000


def test_it_states_the_tag_name_pattern_and_reserved_names(schema):
    name = schema["components"]["schemas"]["TagCreateInputRequest"]["properties"]["name"]
    assert name["pattern"] == r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$"
    reserved = re.compile(name["not"]["pattern"])
    assert reserved.match("Stats") and reserved.match("write") and not reserved.match("Reactor_Temp")


def test_it_refuses_unknown_fields_in_strict_request_bodies(schema):
    assert schema["components"]["schemas"]["TagCreateInputRequest"]["additionalProperties"] is False


@pytest.mark.django_db
def test_it_refuses_a_boolean_filter_it_cannot_read(admin_client):
    r = admin_client.get("/api/users?is_active=banana")
    assert r.status_code == 400
    assert "is_active" in r.json()["detail"]


@pytest.mark.django_db
def test_it_refuses_a_number_where_a_string_field_is_declared(engineer_client):
    r = engineer_client.post("/api/tags", {"machine_id": 7, "name": "Reactor_Temp", "datatype": "REAL"},
                             format="json")
    assert r.status_code == 400
    assert r.json()["errors"] == {"machine_id": ["Not a valid string."]}


@pytest.mark.django_db
def test_it_answers_a_csv_history_error_as_csv_not_a_500(operator_client):
    r = operator_client.options("/api/history?format=csv")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")


@pytest.mark.django_db
def test_it_refuses_a_boolean_where_a_number_field_is_declared(engineer_client):
    r = engineer_client.post("/api/tags", {"machine_id": "reactor-1", "name": "Reactor_Temp", "datatype": "REAL",
                                           "deadband": False}, format="json")
    assert r.status_code == 400
    assert r.json()["errors"] == {"deadband": ["Must be a number."]}
