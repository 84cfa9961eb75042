"""Every API error is JSON {"detail": str} with the seed's status code, whatever produced it."""

import pytest

from scada.tests.urls_errors import SECRET_IN_TRACEBACK

pytestmark = pytest.mark.django_db


def assert_detail_only(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str) and body["detail"]


def test_it_answers_404_json_for_an_unknown_api_route(operator_client):
    r = operator_client.get("/api/no-such-thing/at-all")
    assert_detail_only(r, 404)


def test_it_answers_404_json_for_an_unknown_api_route_without_a_token(api_client):
    assert_detail_only(api_client.get("/api/no-such-thing"), 404)


def test_it_answers_400_json_for_a_malformed_json_body(admin_client):
    r = admin_client.post("/api/users", data='{"username": "nina",', content_type="application/json")
    assert_detail_only(r, 400)
    assert r.json()["detail"].startswith("JSON parse error")


def test_it_answers_400_json_for_a_json_body_that_is_not_an_object(admin_client):
    r = admin_client.post("/api/users", data="[1, 2]", content_type="application/json")
    assert r.status_code == 400
    assert r.json()["detail"].startswith("Invalid data. Expected a dictionary")


def test_it_answers_415_json_for_a_form_body(api_client):
    r = api_client.post("/api/auth/login", data={"username": "x", "password": "y"})  # multipart, not JSON
    assert_detail_only(r, 415)


def test_it_answers_405_json_for_a_wrong_method(operator_client):
    r = operator_client.delete("/api/users/me")
    assert_detail_only(r, 405)
    assert r.json()["detail"] == 'Method "DELETE" not allowed.'


def test_it_answers_401_json_with_a_bearer_challenge(api_client):
    r = api_client.get("/api/users/me")
    assert_detail_only(r, 401)
    assert r["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_answers_401_for_a_malformed_authorization_header(api_client):
    r = api_client.get("/api/users/me", HTTP_AUTHORIZATION="Token abc")
    assert_detail_only(r, 401)


def test_it_answers_403_json_below_the_minimum_role(operator_client):
    r = operator_client.get("/api/users")
    assert r.status_code == 403
    assert r.json() == {"detail": "Insufficient role for this operation: requires admin or higher."}


@pytest.mark.urls("scada.tests.urls_errors")
def test_it_answers_500_json_without_a_traceback_when_an_api_view_fails(api_client):
    r = api_client.get("/api/test/explode")
    assert_detail_only(r, 500)
    assert SECRET_IN_TRACEBACK not in r.content.decode() and "Traceback" not in r.content.decode()
    assert r.json()["detail"] == f"Internal server error; request id {r['X-Request-ID']}."


@pytest.mark.urls("scada.tests.urls_errors")
def test_it_answers_500_json_when_a_plain_django_view_fails(api_client):
    r = api_client.get("/api/test/explode-plain")
    assert_detail_only(r, 500)
    assert SECRET_IN_TRACEBACK not in r.content.decode()


def test_it_answers_options_on_a_public_post_only_route_without_a_token(api_client):
    assert api_client.options("/api/auth/login").status_code == 200


def test_it_refuses_options_below_the_routes_lowest_role(operator_client):
    assert operator_client.options("/api/users").status_code == 403
