"""API keys for integration accounts: shown once, stored hashed, a Bearer credential like a JWT, revocable."""

import hashlib

import pytest
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.authentication import KilnTokenAuthentication
from accounts.models import ApiKey, AuditRecord
from scada.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def erp(make_user):
    return make_user("erp", Role.SUPERVISOR)


@pytest.fixture
def created(admin_client, erp):
    r = admin_client.post("/api/api-keys", {"user": erp.pk, "name": "SAP ERP"}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def key_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_it_shows_the_key_once_and_stores_only_its_hash(admin_client, created):
    key = created["key"]
    row = ApiKey.objects.get(pk=created["api_key"]["id"])
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(ApiKey.objects.filter(pk=row.pk).values().first())
    listed = admin_client.get(f"/api/api-keys/{row.pk}").json()
    assert "key" not in listed and listed["prefix"] == key[:13]
    assert key not in str(admin_client.get("/api/api-keys").json())


def test_it_audits_key_creation_without_the_key(created):
    record = AuditRecord.objects.get(action="apikey.create")
    assert record.new_value == {"user": "erp", "name": "SAP ERP", "prefix": created["key"][:13]}
    assert created["key"] not in str(record.new_value)


def test_it_accepts_the_key_as_a_bearer_token_with_its_users_role(created):
    client = key_client(created["key"])
    me = client.get("/api/users/me")
    assert me.status_code == 200 and me.json()["username"] == "erp"
    assert client.get("/api/system/status").status_code == 200  # Operator+ route
    assert client.get("/api/users").status_code == 403  # Admin route, key of a Supervisor


def test_it_refuses_a_revoked_key_at_once(admin_client, created):
    client = key_client(created["key"])
    assert client.get("/api/users/me").status_code == 200  # warm in the cache
    r = admin_client.delete(f"/api/api-keys/{created['api_key']['id']}")
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert client.get("/api/users/me").status_code == 401
    assert AuditRecord.objects.filter(action="apikey.revoke").count() == 1


def test_it_refuses_the_key_of_a_disabled_user(admin_client, created, erp):
    client = key_client(created["key"])
    assert client.get("/api/users/me").status_code == 200
    assert admin_client.delete(f"/api/users/{erp.pk}").status_code == 200
    assert client.get("/api/users/me").status_code == 401


def test_it_applies_a_role_change_to_a_cached_key(admin_client, created, erp):
    client = key_client(created["key"])
    assert client.get("/api/users").status_code == 403
    assert admin_client.put(f"/api/users/{erp.pk}", {"role": "admin"}, format="json").status_code == 200
    assert client.get("/api/users").status_code == 200


def test_it_refuses_an_unknown_key():
    r = key_client("kiln_" + "x" * 43).get("/api/users/me")
    assert r.status_code == 401
    assert r.json() == {"detail": "Invalid or expired token: Invalid API key."}


def test_it_refuses_a_key_for_a_disabled_user_at_creation(admin_client, erp):
    erp.is_active = False
    erp.save()
    r = admin_client.post("/api/api-keys", {"user": erp.pk, "name": "SAP ERP"}, format="json")
    assert r.status_code == 400
    assert not ApiKey.objects.exists()


def test_it_authenticates_a_warm_key_without_sql(created, django_assert_num_queries):
    key_client(created["key"]).get("/api/users/me")  # first use reads the database and fills the cache
    request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {created['key']}"))
    with django_assert_num_queries(0):
        principal, _ = KilnTokenAuthentication().authenticate(request)
    assert principal.username == "erp" and principal.api_key_id == created["api_key"]["id"]
