"""Login, refresh, logout and token attacks."""

import time
from datetime import UTC, datetime

import jwt
import pytest
import time_machine
from django.conf import settings

from accounts.models import AuditRecord, LoginLockout, User
from conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


def login(api_client, username, password=PASSWORD, **extra):
    return api_client.post("/api/auth/login", {"username": username, "password": password}, format="json", **extra)


def test_it_logs_in_and_returns_the_seed_token_key(api_client, operator):
    r = login(api_client, "olivia")
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"token", "refresh", "expires_at", "user"}
    assert body["user"]["username"] == "olivia" and body["user"]["role"] == "operator"
    assert body["expires_at"].endswith("Z")
    me = api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200 and me.json()["username"] == "olivia"
    assert AuditRecord.objects.filter(action="auth.login", username="olivia").count() == 1


def test_it_answers_the_same_401_for_unknown_user_and_wrong_password(api_client, operator):
    unknown = login(api_client, "nobody", "whatever-pass")
    wrong = login(api_client, "olivia", "wrong-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json() == {"detail": "Invalid username or password."}
    assert AuditRecord.objects.filter(action="auth.login_failed").count() == 2


def test_it_requires_a_token_everywhere_but_login_health_and_schema(api_client):
    assert api_client.get("/api/users/me").status_code == 401
    assert api_client.get("/api/system/status").status_code == 401
    assert api_client.get("/api/system/health").status_code == 200
    assert api_client.get("/api/schema/").status_code == 200


def test_it_locks_the_account_after_repeated_failures_but_keeps_open_sessions(api_client, operator, settings):
    settings.LOGIN_MAX_FAILURES = 3
    open_session = client_for(operator)
    for _ in range(3):
        assert login(api_client, "olivia", "wrong-password").status_code == 401
    assert LoginLockout.objects.get(user=operator, address="127.0.0.1").locked_until is not None
    assert login(api_client, "olivia").status_code == 401  # right password, still locked from this address
    assert open_session.get("/api/users/me").status_code == 200
    assert AuditRecord.objects.filter(action="auth.lockout", object_id=str(operator.pk)).count() == 1


def test_it_revokes_access_and_refresh_tokens_on_logout(api_client, operator):
    body = login(api_client, "olivia").json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {body['token']}"}
    assert api_client.post("/api/auth/logout", **auth).status_code == 200
    assert api_client.get("/api/users/me", **auth).status_code == 401
    assert api_client.post("/api/auth/refresh", {"refresh": body["refresh"]}, format="json").status_code == 401


def test_it_refreshes_an_access_token(api_client, operator):
    body = login(api_client, "olivia").json()
    r = api_client.post("/api/auth/refresh", {"refresh": body["refresh"]}, format="json")
    assert r.status_code == 200
    assert api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {r.json()['token']}").status_code == 200


def test_it_rejects_a_refresh_token_used_as_access(api_client, operator):
    body = login(api_client, "olivia").json()
    assert api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {body['refresh']}").status_code == 401


def _claims(user):
    now = int(time.time())
    return {"token_type": "access", "exp": now + 600, "iat": now, "jti": "x", "user_id": user.pk,
            "username": user.username, "role": 40, "sid": "forged"}


def test_it_rejects_alg_none(api_client, operator):
    token = jwt.encode(_claims(operator), key=None, algorithm="none")
    assert api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_it_rejects_a_token_signed_with_another_key(api_client, operator):
    token = jwt.encode(_claims(operator), key="x" * 64, algorithm="HS256")
    assert api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_it_rejects_an_expired_token(api_client, operator):
    claims = _claims(operator) | {"exp": int(time.time()) - 5, "role": 10}
    token = jwt.encode(claims, key=settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    assert api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_it_stops_a_disabled_users_tokens(admin_client, operator):
    victim = client_for(operator)
    assert victim.get("/api/users/me").status_code == 200
    assert admin_client.delete(f"/api/users/{operator.pk}").status_code == 200
    assert victim.get("/api/users/me").status_code == 401
    operator.refresh_from_db()
    assert operator.is_active is False and User.objects.filter(pk=operator.pk).exists()


def test_it_authenticates_without_sql(operator_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert operator_client.get("/api/system/health").status_code == 200
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from accounts.authentication import KilnTokenAuthentication

    req = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=operator_client._credentials["HTTP_AUTHORIZATION"]))
    with django_assert_num_queries(0):
        principal, _ = KilnTokenAuthentication().authenticate(req)
    assert principal.username == "olivia"


def test_it_lets_a_locked_account_log_in_once_the_lockout_expires(api_client, operator, settings):
    settings.LOGIN_MAX_FAILURES = 2
    settings.LOGIN_LOCKOUT_MINUTES = 15
    with time_machine.travel(datetime(2026, 3, 1, 8, 0, tzinfo=UTC), tick=False):
        for _ in range(2):
            login(api_client, "olivia", "wrong-password")
        assert login(api_client, "olivia").status_code == 401
    with time_machine.travel(datetime(2026, 3, 1, 8, 14, 59, tzinfo=UTC), tick=False):
        assert login(api_client, "olivia").status_code == 401
    with time_machine.travel(datetime(2026, 3, 1, 8, 15, 1, tzinfo=UTC), tick=False):
        assert login(api_client, "olivia").status_code == 200
    operator.refresh_from_db()
    assert operator.failed_login_count == 0 and not LoginLockout.objects.filter(user=operator).exists()


def test_it_revokes_old_access_tokens_when_the_role_changes(admin_client, operator):
    victim = client_for(operator)
    assert admin_client.put(f"/api/users/{operator.pk}", {"role": "supervisor"}, format="json").status_code == 200
    r = victim.get("/api/users/me")
    assert r.status_code == 401
    assert r.json() == {"detail": "Invalid or expired token: Token has been revoked."}


def test_it_gives_the_new_role_on_refresh_after_a_role_change(admin_client, api_client, operator):
    session = login(api_client, "olivia").json()
    assert admin_client.put(f"/api/users/{operator.pk}", {"role": "engineer"}, format="json").status_code == 200
    r = api_client.post("/api/auth/refresh", {"refresh": session["refresh"]}, format="json")
    assert r.status_code == 200, r.content
    new_token = r.json()["token"]
    assert jwt.decode(new_token, options={"verify_signature": False})["role"] == 30
    me = api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {new_token}")
    assert me.status_code == 200 and me.json()["role"] == "engineer"


def test_it_ends_every_session_when_the_password_changes(admin_client, api_client, operator):
    session = login(api_client, "olivia").json()
    r = admin_client.put(f"/api/users/{operator.pk}", {"password": "another-long-pw"}, format="json")
    assert r.status_code == 200
    assert api_client.post("/api/auth/refresh", {"refresh": session["refresh"]}, format="json").status_code == 401
    assert api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {session['token']}").status_code == 401


def test_it_refuses_refresh_for_a_disabled_user(admin_client, api_client, operator):
    session = login(api_client, "olivia").json()
    assert admin_client.delete(f"/api/users/{operator.pk}").status_code == 200
    assert api_client.post("/api/auth/refresh", {"refresh": session["refresh"]}, format="json").status_code == 401


def test_it_audits_logout(api_client, operator):
    body = login(api_client, "olivia").json()
    api_client.post("/api/auth/logout", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert AuditRecord.objects.filter(action="auth.logout", username="olivia").count() == 1


def test_it_rejects_an_access_token_used_as_refresh(api_client, operator):
    body = login(api_client, "olivia").json()
    r = api_client.post("/api/auth/refresh", {"refresh": body["token"]}, format="json")
    assert r.status_code == 401
    assert r.json()["detail"].startswith("Invalid or expired refresh token")


def test_it_refuses_a_token_it_accepted_before_once_it_expires(api_client, operator):
    """Verified tokens are remembered per process (no HMAC per request); expiry is still checked every time."""

    claims = _claims(operator) | {"exp": int(time.time()) + 60}
    token = jwt.encode(claims, key=settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    assert api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    with time_machine.travel(time.time() + 61, tick=False):
        r = api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 401 and r.json() == {"detail": "Invalid or expired token: Token is expired"}



# --- seed 000: POST /api/auth/refresh with the token itself -------------------------------------------------------

def test_it_renews_a_live_token_sent_as_bearer_as_seed_000_describes(api_client, operator):
    session = login(api_client, "olivia").json()
    r = api_client.post("/api/auth/refresh", HTTP_AUTHORIZATION=f"Bearer {session['token']}")
    assert r.status_code == 200, r.content
    assert set(r.json()) == {"token", "expires_at"}
    renewed = r.json()["token"]
    claims = jwt.decode(renewed, options={"verify_signature": False})
    first = jwt.decode(session["token"], options={"verify_signature": False})
    assert claims["sid"] == first["sid"] and claims["sexp"] == first["sexp"] and claims["role"] == 10
    assert api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {renewed}").status_code == 200


def test_it_renews_no_token_issued_before_a_role_change(admin_client, api_client, operator):
    """A role change revokes the access tokens issued before it; the refresh token brings the new role."""
    session = login(api_client, "olivia").json()
    assert admin_client.put(f"/api/users/{operator.pk}", {"role": "engineer"}, format="json").status_code == 200
    r = api_client.post("/api/auth/refresh", HTTP_AUTHORIZATION=f"Bearer {session['token']}")
    assert r.status_code == 401 and r.json() == {"detail": "Invalid or expired token: Token has been revoked."}


def test_it_never_renews_a_token_past_the_end_of_its_login_session(api_client, operator):
    session = login(api_client, "olivia").json()
    session_end = jwt.decode(session["token"], options={"verify_signature": False})["sexp"]
    # The login's own token expired 30 minutes after login: renewing needs a live token.
    with time_machine.travel(time.time() + 31 * 60, tick=False):
        r = api_client.post("/api/auth/refresh", HTTP_AUTHORIZATION=f"Bearer {session['token']}")
    assert r.status_code == 401 and r.json() == {"detail": "Invalid or expired token: Token is expired"}
    # Ten minutes before the session ends, a live token renewed by itself ends with the session, not later.
    with time_machine.travel(session_end - 10 * 60, tick=False):
        live = api_client.post("/api/auth/refresh", {"refresh": session["refresh"]}, format="json").json()["token"]
        r = api_client.post("/api/auth/refresh", HTTP_AUTHORIZATION=f"Bearer {live}")
    assert r.status_code == 200, r.content
    assert jwt.decode(r.json()["token"], options={"verify_signature": False})["exp"] == session_end
    with time_machine.travel(session_end + 1, tick=False):
        r = api_client.post("/api/auth/refresh", HTTP_AUTHORIZATION=f"Bearer {r.json()['token']}")
    assert r.status_code == 401


def test_it_refuses_to_renew_a_logged_out_session_or_an_api_key(api_client, admin_client, operator):
    session = login(api_client, "olivia").json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {session['token']}"}
    assert api_client.post("/api/auth/logout", **auth).status_code == 200
    r = api_client.post("/api/auth/refresh", **auth)
    assert r.status_code == 401
    assert r.json() == {"detail": "Invalid or expired token: Token has been revoked (logged out)."}
    key = admin_client.post("/api/api-keys", {"user": operator.pk, "name": "erp"}, format="json")
    assert key.status_code == 201, key.content
    r = api_client.post("/api/auth/refresh", HTTP_AUTHORIZATION=f"Bearer {key.json()['key']}")
    assert r.status_code == 400 and r.json() == {"detail": "API keys do not expire: there is nothing to refresh."}


def test_it_asks_for_a_credential_when_refresh_gets_neither(api_client):
    r = api_client.post("/api/auth/refresh", {}, format="json")
    assert r.status_code == 400
    assert r.json()["detail"].startswith('Send the refresh token as {"refresh": ...}')
