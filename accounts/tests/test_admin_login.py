"""The Django admin login has the API login's lockout, rate limit and audit (no side door for guessing)."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from accounts.models import AuditRecord, LoginLockout
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def admin_login(client, username, password=PASSWORD):
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def test_it_lets_an_engineer_into_django_admin_and_audits_it(engineer):
    client = Client()
    r = admin_login(client, "erin")
    assert r.status_code == 302 and r["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert AuditRecord.objects.filter(action="auth.login", username="erin", reason="Django admin").count() == 1


def test_it_keeps_an_operator_out_of_django_admin(operator):
    client = Client()
    assert admin_login(client, "olivia").status_code == 200  # the form again, with an error
    assert client.get("/admin/").status_code == 302


def test_it_locks_the_account_after_failed_admin_logins(engineer, settings):
    settings.LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        assert admin_login(client, "erin", "wrong-password").status_code == 200
    assert LoginLockout.objects.get(user=engineer, address="127.0.0.1").locked_until is not None
    assert admin_login(client, "erin").status_code == 200  # right password, still locked from this address
    assert client.get("/admin/").status_code == 302
    assert AuditRecord.objects.filter(action="auth.lockout", username="erin").count() == 1


@time_machine.travel(datetime(2026, 3, 1, 8, 0, 10, tzinfo=UTC), tick=False)  # all attempts in one rate window
def test_it_rate_limits_admin_logins_per_ip(engineer):
    client = Client()
    for _ in range(10):
        admin_login(client, "nobody", "whatever-pass")
    assert admin_login(client, "erin").status_code == 200  # the 11th attempt this minute is refused
    assert client.get("/admin/").status_code == 302
