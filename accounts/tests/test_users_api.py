"""Users API (Admin): list, create, update, disable; mass assignment; duplicates; audit."""

import pytest

from accounts.models import AuditRecord, User
from conftest import client_for
from scada.roles import Role

pytestmark = pytest.mark.django_db

NEW = {"username": "nina", "password": "long-enough-pw", "role": "supervisor", "email": "nina@plant.example"}


def test_it_lists_users(admin_client, operator, engineer):
    r = admin_client.get("/api/users")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3
    assert {u["username"]: u["role"] for u in body["results"]} == {"ada": "admin", "olivia": "operator",
                                                                   "erin": "engineer"}
    assert "password" not in body["results"][0]


def test_it_creates_a_user_who_can_log_in(admin_client, api_client):
    r = admin_client.post("/api/users", NEW, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["role"] == "supervisor" and r.json()["is_active"] is True
    login = api_client.post("/api/auth/login", {"username": "nina", "password": "long-enough-pw"}, format="json")
    assert login.status_code == 200 and login.json()["user"]["role"] == "supervisor"


def test_it_audits_user_creation_without_the_password(admin_client, admin_user):
    user_id = admin_client.post("/api/users", NEW, format="json").json()["id"]
    record = AuditRecord.objects.get(action="user.create", object_id=str(user_id))
    assert record.username == "ada" and record.user_id == admin_user.pk
    assert record.new_value["role"] == "supervisor"
    assert "long-enough-pw" not in str(record.new_value)


def test_it_answers_409_for_a_duplicate_username(admin_client, operator):
    r = admin_client.post("/api/users", NEW | {"username": "olivia"}, format="json")
    assert r.status_code == 409
    assert r.json() == {"detail": "User 'olivia' already exists"}


def test_it_answers_409_for_a_username_differing_only_in_case(admin_client, operator):
    assert admin_client.post("/api/users", NEW | {"username": "Olivia"}, format="json").status_code == 409
    assert User.objects.count() == 2


def test_it_rejects_unknown_fields_on_create(admin_client):
    r = admin_client.post("/api/users", NEW | {"is_superuser": True}, format="json")
    assert r.status_code == 400
    assert r.json()["detail"] == "Unknown or read-only fields: is_superuser"
    assert not User.objects.filter(username="nina").exists()


def test_it_rejects_a_bad_role(admin_client):
    r = admin_client.post("/api/users", NEW | {"role": "overlord"}, format="json")
    assert r.status_code == 400
    assert r.json()["detail"].startswith("role:")


def test_it_rejects_a_weak_password(admin_client):
    r = admin_client.post("/api/users", NEW | {"password": "short"}, format="json")
    assert r.status_code == 400
    assert r.json()["detail"].startswith("password:")
    assert not User.objects.filter(username="nina").exists()


def test_it_updates_a_users_role_and_audits_old_and_new(admin_client, operator):
    r = admin_client.put(f"/api/users/{operator.pk}", {"role": "supervisor", "first_name": "Olivia"}, format="json")
    assert r.status_code == 200, r.content
    operator.refresh_from_db()
    assert operator.role == Role.SUPERVISOR and operator.first_name == "Olivia"
    record = AuditRecord.objects.get(action="user.update", object_id=str(operator.pk))
    assert record.old_value == {"role": "operator", "first_name": ""}
    assert record.new_value == {"role": "supervisor", "first_name": "Olivia"}


def test_it_rejects_unknown_fields_on_update(admin_client, operator):
    r = admin_client.put(f"/api/users/{operator.pk}", {"username": "root", "is_superuser": True}, format="json")
    assert r.status_code == 400
    assert r.json()["detail"] == "Unknown or read-only fields: is_superuser, username"
    operator.refresh_from_db()
    assert operator.username == "olivia" and not operator.is_superuser


def test_it_forbids_a_non_admin_raising_their_own_role(operator_client, operator):
    r = operator_client.put(f"/api/users/{operator.pk}", {"role": "admin"}, format="json")
    assert r.status_code == 403
    operator.refresh_from_db()
    assert operator.role == Role.OPERATOR


def test_it_forbids_an_admin_changing_their_own_role(admin_client, admin_user):
    r = admin_client.put(f"/api/users/{admin_user.pk}", {"role": "operator"}, format="json")
    assert r.status_code == 403
    assert r.json() == {"detail": "You cannot change your own role."}
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_it_forbids_a_disabled_user_re_enabling_themselves(admin_user, make_user):
    other_admin = make_user("abe", Role.ADMIN)
    own_client = client_for(other_admin)
    assert client_for(admin_user).delete(f"/api/users/{other_admin.pk}").status_code == 200
    r = own_client.put(f"/api/users/{other_admin.pk}", {"is_active": True}, format="json")
    assert r.status_code == 401
    other_admin.refresh_from_db()
    assert other_admin.is_active is False


def test_it_forbids_an_admin_disabling_themselves(admin_client, admin_user):
    assert admin_client.delete(f"/api/users/{admin_user.pk}").status_code == 403
    admin_user.refresh_from_db()
    assert admin_user.is_active is True


def test_it_disables_instead_of_deleting_and_audits_it(admin_client, operator):
    r = admin_client.delete(f"/api/users/{operator.pk}")
    assert r.status_code == 200 and r.json()["is_active"] is False
    operator.refresh_from_db()
    assert operator.is_active is False
    record = AuditRecord.objects.get(action="user.disable", object_id=str(operator.pk))
    assert record.old_value == {"is_active": True} and record.new_value == {"is_active": False}


def test_it_lets_an_admin_re_enable_a_disabled_user(admin_client, operator, api_client):
    admin_client.delete(f"/api/users/{operator.pk}")
    r = admin_client.put(f"/api/users/{operator.pk}", {"is_active": True}, format="json")
    assert r.status_code == 200 and r.json()["is_active"] is True
    login = api_client.post("/api/auth/login", {"username": "olivia", "password": "correct-horse-battery"},
                            format="json")
    assert login.status_code == 200


def test_it_answers_404_json_for_an_unknown_user(admin_client):
    r = admin_client.put("/api/users/999999", {"first_name": "x"}, format="json")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not found."}


def test_it_shows_the_callers_own_profile(supervisor_client):
    r = supervisor_client.get("/api/users/me")
    assert r.status_code == 200
    assert r.json()["username"] == "sam" and r.json()["role"] == "supervisor"


def test_it_writes_user_times_like_every_other_api_time(admin_client, operator):
    from datetime import UTC, datetime

    from accounts.models import User

    User.objects.filter(pk=operator.pk).update(last_login=datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
                                               date_joined=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    body = admin_client.get(f"/api/users/{operator.pk}").json()
    assert (body["last_login"], body["date_joined"]) == ("2026-03-01T09:30:15.123Z", "2026-01-02T03:04:05Z")


@pytest.mark.parametrize("role", ["admin", "Admin", "ADMIN", "40"])
def test_it_filters_users_by_role_name_or_number(admin_client, admin_user, operator, engineer, role):
    r = admin_client.get("/api/users", {"role": role})
    assert r.status_code == 200, r.content
    assert [u["username"] for u in r.json()["results"]] == [admin_user.username]


def test_it_answers_400_for_an_unknown_role_filter(admin_client):
    r = admin_client.get("/api/users", {"role": "overlord"})
    assert r.status_code == 400
    assert r.json()["detail"] == ("role: Unknown role 'overlord'; expected one of: operator, supervisor, engineer, "
                                  "admin (or 10, 20, 30, 40).")
