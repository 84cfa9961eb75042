"""manage.py create_user: provisioning accounts from a shell or a deployment script."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import AuditRecord, User
from scada.roles import Role

pytestmark = pytest.mark.django_db


def test_it_creates_a_user_with_the_password_from_an_environment_variable(monkeypatch):
    monkeypatch.setenv("KILN_NEW_PASSWORD", "long-enough-pw")
    out = io.StringIO()
    call_command("create_user", "nina", "--role", "supervisor", "--password-env", "KILN_NEW_PASSWORD", stdout=out)
    user = User.objects.get(username="nina")
    assert user.role == Role.SUPERVISOR and user.check_password("long-enough-pw")
    assert out.getvalue().strip() == "Created user nina (supervisor)"


def test_it_reads_the_password_from_stdin():
    call_command("create_user", "nina", "--role", "Admin", stdin=io.StringIO("long-enough-pw\n"), stdout=io.StringIO())
    user = User.objects.get(username="nina")
    assert user.role == Role.ADMIN and user.is_staff and user.check_password("long-enough-pw")


def test_it_audits_the_creation():
    call_command("create_user", "nina", role="engineer", stdin=io.StringIO("long-enough-pw\n"), stdout=io.StringIO())
    record = AuditRecord.objects.get(action="user.create")
    assert record.username == "" and record.new_value["username"] == "nina" and record.new_value["role"] == "engineer"


def test_it_refuses_an_unknown_role():
    with pytest.raises(CommandError, match="Unknown role 'overlord'"):
        call_command("create_user", "nina", "--role", "overlord", stdin=io.StringIO("long-enough-pw\n"))
    assert not User.objects.exists()


def test_it_refuses_an_empty_password_variable(monkeypatch):
    monkeypatch.delenv("KILN_NEW_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="KILN_NEW_PASSWORD is empty or not set"):
        call_command("create_user", "nina", "--role", "operator", "--password-env", "KILN_NEW_PASSWORD")


def test_it_refuses_a_weak_password():
    with pytest.raises(CommandError, match="password:"):
        call_command("create_user", "nina", "--role", "operator", stdin=io.StringIO("short\n"))
    assert not User.objects.exists()


def test_it_refuses_an_existing_username(operator):
    with pytest.raises(CommandError, match="User 'olivia' already exists"):
        call_command("create_user", "olivia", "--role", "admin", stdin=io.StringIO("long-enough-pw\n"))
    operator.refresh_from_db()
    assert operator.role == Role.OPERATOR
