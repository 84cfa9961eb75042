"""Revocation lives in PostgreSQL; Redis only caches it. A Redis that lost its data never revives a token."""

import pytest
from django.db import transaction

from accounts import tokens
from accounts.models import RevokedSession, User
from accounts.services import api_key_create, auth_logout, user_update
from conftest import client_for
from scada.redis import get_redis

pytestmark = pytest.mark.django_db


def redis_restarts_without_persistence():
    get_redis().flushdb()


def me(client):
    return client.get("/api/users/me")


def test_it_refuses_a_logged_out_token_after_redis_lost_its_data(operator):
    client = client_for(operator)
    assert client.post("/api/auth/logout").status_code == 200
    redis_restarts_without_persistence()
    r = me(client)
    assert r.status_code == 401
    assert r.json() == {"detail": "Invalid or expired token: Token has been revoked (logged out)."}


def test_it_refuses_a_logged_out_refresh_token_after_redis_lost_its_data(api_client, operator):
    client = client_for(operator)
    client.post("/api/auth/logout")
    redis_restarts_without_persistence()
    r = api_client.post("/api/auth/refresh", {"refresh": client.tokens["refresh"]}, format="json")
    assert r.status_code == 401


def test_it_records_a_logout_in_the_database(operator):
    client = client_for(operator)
    client.post("/api/auth/logout")
    row = RevokedSession.objects.get(sid=client.tokens["sid"])
    assert row.user_id == operator.pk and row.reason == "logout"


def test_it_refuses_a_disabled_users_token_after_redis_lost_its_data(admin_client, operator):
    victim = client_for(operator)
    assert admin_client.delete(f"/api/users/{operator.pk}").status_code == 200
    redis_restarts_without_persistence()
    assert me(victim).status_code == 401


def test_it_refuses_tokens_from_before_a_password_change_after_redis_lost_its_data(admin_client, api_client,
                                                                                   operator):
    victim = client_for(operator)
    r = admin_client.put(f"/api/users/{operator.pk}", {"password": "another-long-pw"}, format="json")
    assert r.status_code == 200
    redis_restarts_without_persistence()
    assert me(victim).status_code == 401
    assert api_client.post("/api/auth/refresh", {"refresh": victim.tokens["refresh"]},
                           format="json").status_code == 401


def test_it_refuses_access_tokens_from_before_a_role_change_after_redis_lost_its_data(admin_client, api_client,
                                                                                      operator):
    victim = client_for(operator)
    assert admin_client.put(f"/api/users/{operator.pk}", {"role": "engineer"}, format="json").status_code == 200
    redis_restarts_without_persistence()
    assert me(victim).status_code == 401
    # The session itself goes on: its refresh token brings the new role.
    r = api_client.post("/api/auth/refresh", {"refresh": victim.tokens["refresh"]}, format="json")
    assert r.status_code == 200, r.content


def test_it_refuses_a_revoked_api_key_after_redis_lost_its_data(admin_client, api_client, admin_user, operator):
    api_key, key = api_key_create(actor=admin_user, user=operator, name="erp")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert api_client.get("/api/users/me", **auth).status_code == 200  # cached in Redis now
    assert admin_client.delete(f"/api/api-keys/{api_key.pk}").status_code in (200, 204)
    redis_restarts_without_persistence()
    assert api_client.get("/api/users/me", **auth).status_code == 401


def test_it_reloads_revocations_when_redis_restarted_from_an_older_snapshot(operator):
    """A restart from an RDB/AOF snapshot keeps the marker but may lack the last revocations: the marker names
    the Redis run it was loaded into, and a new run_id forces a reload from PostgreSQL."""
    client = client_for(operator)
    client.post("/api/auth/logout")
    r = get_redis()
    r.delete(f"kiln:revoked:sid:{client.tokens['sid']}")  # the snapshot predates the logout...
    r.set("kiln:revocations:loaded", "run-id-of-the-redis-before-the-restart")  # ...but holds an old marker
    assert me(client).status_code == 401


def test_it_refuses_a_cached_api_key_entry_from_an_earlier_redis_run(api_client, admin_user, operator):
    api_key, key = api_key_create(actor=admin_user, user=operator, name="erp")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert api_client.get("/api/users/me", **auth).status_code == 200
    r = get_redis()
    cache_key = f"kiln:apikey:{tokens.hash_api_key(key)}"
    snapshot = r.get(cache_key).replace(tokens._redis_run_id(r), b"an-earlier-run")
    # Revoked in the database; the cache entry dropped with it is back, restored from an older snapshot.
    type(api_key).objects.filter(pk=api_key.pk).update(revoked_at=api_key.created)
    r.set(cache_key, snapshot)
    assert api_client.get("/api/users/me", **auth).status_code == 401


def test_it_authenticates_without_sql_once_the_cache_is_reloaded(operator, django_assert_num_queries):
    client = client_for(operator)
    redis_restarts_without_persistence()
    assert me(client).status_code == 200  # reloads from PostgreSQL
    principal_token = client.tokens["token"]
    with django_assert_num_queries(0):
        assert tokens.principal_from_access_token(principal_token).username == "olivia"


def test_it_answers_503_rather_than_guess_when_neither_redis_nor_the_database_know(operator, monkeypatch):
    client = client_for(operator)
    redis_restarts_without_persistence()
    from django.db import DatabaseError

    def database_down(r=None):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(tokens, "revocations_load", database_down)
    with pytest.raises(tokens.AuthUnavailable):
        tokens.principal_from_access_token(client.tokens["token"])


def test_it_keeps_the_newer_revocation_time_when_a_reload_races_a_revocation(operator):
    tokens.revoke_user_tokens(operator.pk)
    newer = int(get_redis().get(f"kiln:revoked:user:{operator.pk}"))
    # A reload that read the row before that revocation committed carries an older time: it must not win.
    User.objects.filter(pk=operator.pk).update(tokens_valid_after=operator.date_joined)
    tokens.revocations_load()
    assert int(get_redis().get(f"kiln:revoked:user:{operator.pk}")) == newer


def test_it_refuses_a_logged_out_token_on_the_database_only_path(operator):
    """GET /api/system/status authenticates from PostgreSQL during a Redis outage: it now sees logouts too."""
    pair = tokens.issue_token_pair(operator)
    with transaction.atomic():
        auth_logout(principal=tokens.principal_from_access_token(pair["token"]))
    with pytest.raises(tokens.TokenInvalid, match="logged out"):
        tokens.principal_from_bearer_without_redis(pair["token"])


def test_it_refuses_a_token_from_before_a_password_change_on_the_database_only_path(admin_user, operator):
    pair = tokens.issue_token_pair(operator)
    user_update(actor=admin_user, user=operator, data={"password": "another-long-pw"})
    with pytest.raises(tokens.TokenInvalid, match="revoked"):
        tokens.principal_from_bearer_without_redis(pair["token"])
