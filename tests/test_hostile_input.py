"""Hostile input answers a clear 4xx with {"detail"} (device API: {"error"}), and changes nothing (issue 11.2).

One test per case that answered 500 before: NUL characters, oversized and deeply nested bodies, numbers no float
holds, out-of-range dates and intervals, huge offsets, malformed batch items, and the audit listing of values
that PostgreSQL's jsonb hands back as integers beyond 64 bits.
"""

import json

import pytest
from rest_framework.test import APIClient

from accounts.models import AuditRecord, User
from scada.api.parsers import MAX_JSON_DEPTH
from scada.roles import Role
from tags.models import Machine, Site, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(db):
    site = Site.objects.create(site_id="plant-a", name="Plant A")
    machine = Machine.objects.create(machine_id="m1", name="Line 1", site=site)
    real = Tag.objects.create(name="Lab_Real", datatype="REAL", machine=machine, is_writable=True,
                              write_role=Role.OPERATOR)
    limited = Tag.objects.create(name="Lab_Int", datatype="INT", machine=machine, is_writable=True, min_value=0,
                                 max_value=100, write_role=Role.OPERATOR)
    return {"site": site, "machine": machine, "real": real, "int": limited}


def _snapshot():
    """What a refused request must leave untouched."""
    return (
        list(Tag.objects.order_by("pk").values_list("pk", "name", "description", "write_count", "last_write_at")),
        AuditRecord.objects.count(),
        User.objects.count(),
    )


def _post(client, path, body, method="POST"):
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.generic(method, path, data=raw, content_type="application/json")


# --- NUL characters ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/api/tags/Lab%00Real",
    "/api/tags/m%001/Lab_Real",
    "/api/tags/Lab%00Real/history",
])
def test_it_refuses_a_nul_in_a_tag_or_machine_id_in_the_url(admin_client, plant, path):
    before = _snapshot()
    response = admin_client.get(path)
    assert response.status_code == 400
    assert response.json() == {"detail": "The URL path must not contain NUL characters."}
    assert _snapshot() == before


def test_it_refuses_a_nul_in_a_tag_write_url_and_writes_nothing(admin_client, plant):
    before = _snapshot()
    response = _post(admin_client, "/api/tags/Lab%00Real/write", {"value": 1.0})
    assert response.status_code == 400
    assert response.json()["detail"] == "The URL path must not contain NUL characters."
    assert _snapshot() == before


@pytest.mark.parametrize("path", [
    "/api/sites/plant%00a/devices",
    "/api/sites/plant-a/devices/m%001",
    "/api/sites/plant-a/devices/m1/tags/Sp%00eed",
    "/api/sites/plant-a/devices/m%001/alarms",
])
def test_it_refuses_a_nul_in_a_device_route_in_the_device_error_shape(admin_client, plant, path):
    response = admin_client.get(path)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "BAD_REQUEST", "details": [],
                                         "message": "The URL path must not contain NUL characters."}}


@pytest.mark.parametrize("path", [
    "/api/tags?search=Lab%00",
    "/api/tags?machine_id=m%001",
    "/api/alarms?search=a%00",
    "/api/alarms?machine_id=m%001",
    "/api/users?search=a%00",
    "/api/audit?search=a%00",
])
def test_it_refuses_a_nul_in_a_search_or_machine_id_filter(admin_client, plant, path):
    response = admin_client.get(path)
    assert response.status_code == 400
    name = path.split("?")[1].split("=")[0]
    assert response.json() == {"detail": f"Query parameter '{name}' must not contain NUL characters."}


def test_it_refuses_a_nul_in_any_json_string_and_creates_nothing(admin_client, plant):
    before = _snapshot()
    response = _post(admin_client, "/api/tags", {"machine_id": "m1", "name": "New_Tag", "datatype": "REAL",
                                                 "description": "a\x00b"})
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON strings must not contain NUL characters."}
    assert _snapshot() == before


def test_it_refuses_a_nul_in_a_json_key(admin_client, plant):
    before = _snapshot()
    response = _post(admin_client, "/api/tags", {"machine_id": "lab", "name": "New_Tag", "datatype": "REAL",
                                                 "descr\x00iption": "x"})
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON strings must not contain NUL characters."}
    assert _snapshot() == before


def test_it_refuses_a_nul_in_a_write_body_key_as_an_unknown_field_and_audits_it(admin_client, plant):
    response = _post(admin_client, "/api/tags/Lab_Real/write", {"value": 1.0, "re\x00ason": "x"})
    assert response.status_code == 400 and "Unknown" in response.json()["detail"]
    assert AuditRecord.objects.filter(action="tag.write_refused", object_id="Lab_Real").count() == 1


def test_it_refuses_a_nul_in_a_nested_write_value_and_writes_nothing(admin_client, plant):
    before = _snapshot()
    response = _post(admin_client, "/api/tags/batch/write",
                     {"writes": [{"name": "Lab_Real", "value": 1.0, "signature": {"password": "\x00"}}]})
    # The write path checks NUL itself, per item, and audits the refusal (scada.api.parsers: json_nul_checked_by_view)
    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert (item["success"], item["status"]) == (False, 400) and "NUL" in item["error"]
    tags_after, audit_after, users_after = _snapshot()
    assert (tags_after, users_after) == (before[0], before[2])
    assert audit_after == before[1] + 1  # the refused attempt, on record (Part 11), and nothing else
    assert AuditRecord.objects.order_by("-id").first().action == "tag.write_refused"


# --- body size and shape ---------------------------------------------------------------------------------------

def test_it_answers_413_to_an_oversized_login_before_authenticating(settings, make_user):
    make_user("olivia", Role.OPERATOR)
    body = json.dumps({"username": "olivia", "password": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    response = _post(APIClient(), "/api/auth/login", body)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body too large (at most {limit} bytes)."}
    assert AuditRecord.objects.count() == 0  # not even a failed login was recorded


def test_it_answers_413_to_an_oversized_body_on_an_authenticated_route(admin_client, plant, settings):
    before = _snapshot()
    response = _post(admin_client, "/api/tags", {"machine_id": "m1", "name": "Big", "datatype": "REAL",
                                                 "description": "a" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Request body too large")
    assert _snapshot() == before


def test_it_answers_413_in_the_device_error_shape(admin_client, plant, settings):
    body = json.dumps({"value": "a" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = _post(admin_client, "/api/sites/plant-a/devices/m1/tags/Lab_Real", body, method="PUT")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_it_answers_413_to_an_oversized_body_without_content_length(settings, admin_client, plant):
    # A chunked body has no Content-Length for the middleware; Django measures it as the parser reads it.
    from django.core.exceptions import RequestDataTooBig
    from rest_framework.views import APIView

    from scada.api.errors import exception_handler

    response = exception_handler(RequestDataTooBig("too big"), {"view": APIView()})
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert response.status_code == 413
    assert response.data == {"detail": f"Request body too large (at most {limit} bytes)."}


def test_it_refuses_deeply_nested_json_at_login():
    depth = 100_000
    response = _post(APIClient(), "/api/auth/login", "[" * depth + "]" * depth)
    assert response.status_code == 400
    assert response.json() == {"detail": f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)."}


def test_it_refuses_json_nested_past_the_limit_even_when_the_decoder_copes(admin_client, plant):
    before = _snapshot()
    value = 1.0
    for _ in range(MAX_JSON_DEPTH):
        value = [value]
    response = _post(admin_client, "/api/tags/Lab_Real/write", {"value": value})
    assert response.status_code == 400
    assert response.json() == {"detail": f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)."}
    assert _snapshot() == before


def test_it_refuses_batch_items_whose_name_is_an_object(admin_client, plant):
    before = _snapshot()
    response = _post(admin_client, "/api/tags/batch/write",
                     {"writes": [{"machine_id": "m1", "name": {"a": 1}, "value": 1.0}]})
    assert response.status_code == 400
    assert response.json()["detail"] == "writes: item 0: name must be a string"
    assert _snapshot() == before


def test_it_refuses_batch_items_whose_machine_id_is_a_list(admin_client, plant):
    response = _post(admin_client, "/api/tags/batch/write",
                     {"writes": [{"name": "Lab_Real", "value": 1.0},
                                 {"machine_id": ["m1"], "name": "Lab_Real", "value": 2.0}]})
    assert response.status_code == 400
    assert response.json()["detail"] == "writes: item 1: machine_id must be a string"
    assert Tag.objects.get(name="Lab_Real").write_count == 0  # the good item was not written either


# --- numbers ----------------------------------------------------------------------------------------------------

def test_it_refuses_a_400_digit_integer_written_to_a_real_tag(admin_client, plant):
    before = _snapshot()
    response = _post(admin_client, "/api/tags/Lab_Real/write", '{"value": ' + "9" * 400 + "}")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "JSON parse error - the number 999999999999…(400 digits) is too large (at most ±1.79769e+308)")
    assert _snapshot() == before


def test_it_refuses_a_400_digit_integer_written_to_an_int_tag_with_limits(admin_client, plant):
    before = _snapshot()
    response = _post(admin_client, "/api/tags/Lab_Int/write", '{"value": -' + "9" * 400 + "}")
    assert response.status_code == 400
    assert "is too large" in response.json()["detail"]
    assert _snapshot() == before


def test_it_still_answers_the_seed_limit_text_for_a_large_integer_a_float_holds(admin_client, plant):
    response = _post(admin_client, "/api/tags/Lab_Int/write", '{"value": ' + "9" * 30 + "}")
    assert response.status_code == 422
    assert response.json()["detail"] == "Value 1e+30 exceeds maximum limit of 100.0 for tag 'Lab_Int'"


def test_it_refuses_a_float_literal_that_overflows_to_infinity(admin_client, plant):
    response = _post(admin_client, "/api/tags", '{"machine_id": "m1", "name": "Inf", "datatype": "REAL", '
                                                '"max_value": 1e400}')
    assert response.status_code == 400
    assert response.json()["detail"] == "JSON parse error - the number 1e400 is out of range (at most ±1.79769e+308)"
    assert not Tag.objects.filter(name="Inf").exists()


@pytest.mark.parametrize("path", ["/api/tags", "/api/users", "/api/alarms", "/api/audit"])
def test_it_refuses_an_offset_beyond_what_postgresql_can_skip(admin_client, plant, path):
    response = admin_client.get(path, {"offset": "100000000000000000000"})
    assert response.status_code == 400
    assert response.json() == {"detail": "offset must be at most 9223372036854775807"}


# --- history dates and intervals ------------------------------------------------------------------------------

@pytest.mark.parametrize(("param", "raw"), [
    ("start", "0001-01-01T00:00:00+05:00"),
    ("end", "9999-12-31T23:59:59-05:00"),
])
def test_it_refuses_history_dates_beyond_year_1_or_9999_in_utc(admin_client, plant, param, raw):
    response = admin_client.get("/api/tags/Lab_Real/history", {param: raw})
    assert response.status_code == 400
    assert response.json()["detail"] == f"{param}: '{raw}' is outside the supported range (years 1 to 9999 in UTC)."


def test_it_refuses_history_dates_beyond_year_1_on_the_many_tag_route(admin_client, plant):
    response = admin_client.get("/api/history", {"tags": "Lab_Real", "start": "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 400
    assert "outside the supported range" in response.json()["detail"]


@pytest.mark.parametrize("interval", ["1000000000000000000000", "1e21"])
def test_it_refuses_an_absurd_history_interval(admin_client, plant, interval):
    response = admin_client.get("/api/tags/Lab_Real/history", {"mode": "average", "interval": interval})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("interval: interval must be")


# --- audit listing --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [1e20, 1.5e300, -0.0])
def test_it_lists_the_audit_trail_after_extreme_values_were_written(admin_client, plant, value):
    written = _post(admin_client, "/api/tags/Lab_Real/write", {"value": value})
    assert written.status_code == 200, written.content
    response = admin_client.get("/api/audit", {"action": "tag.write"})
    assert response.status_code == 200, response.content
    [record] = response.json()["results"]
    # jsonb keeps 1e20 as the integer 100000000000000000000; the listing renders it, equal as a number.
    assert float(record["new_value"]["value"]) == value


def test_it_refuses_a_zone_offset_postgresql_cannot_store_in_a_date_filter(admin_client):
    response = admin_client.get("/api/audit?end=0405-12-20T06:13:47.8-19:50")
    assert response.status_code == 200  # compared in UTC: the offset never reaches PostgreSQL
    response = admin_client.get("/api/audit?start=0001-01-01T00:00:00%2B05:00")
    assert response.status_code == 400 and "out of range" in response.json()["detail"]
