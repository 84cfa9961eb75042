"""Login lockout per (account, client address), and refusals that all cost one run of the password hasher."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher

from accounts.models import AuditRecord, LoginLockout, User
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

HASHER = "accounts.tests.test_login_lockout.CountingHasher"


class CountingHasher(MD5PasswordHasher):
    """The suite's fast hasher, counting every hash it computes (verifying or encoding)."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


def login(api_client, username, password=PASSWORD, address="10.0.0.7"):
    return api_client.post("/api/auth/login", {"username": username, "password": password}, format="json",
                           REMOTE_ADDR=address)


def hashes_for(api_client, username, password):
    CountingHasher.calls = 0
    assert login(api_client, username, password).status_code == 401
    return CountingHasher.calls


@pytest.fixture
def counting_hasher(settings, operator):
    settings.PASSWORD_HASHERS = [HASHER]
    operator.set_password(PASSWORD)  # re-hashed with the counting hasher, so verifying it is counted
    operator.save()
    return CountingHasher


def test_it_hashes_once_for_an_unknown_user(api_client, counting_hasher):
    assert hashes_for(api_client, "nobody", "whatever-pass") == 1


def test_it_hashes_once_for_a_wrong_password(api_client, counting_hasher):
    assert hashes_for(api_client, "olivia", "wrong-password") == 1


def test_it_hashes_once_for_a_locked_account(api_client, counting_hasher, settings):
    settings.LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        login(api_client, "olivia", "wrong-password")
    assert hashes_for(api_client, "olivia", PASSWORD) == 1  # a locked account answered at once was the oracle


def test_it_hashes_once_for_a_disabled_account(api_client, counting_hasher, operator):
    User.objects.filter(pk=operator.pk).update(is_active=False)
    assert hashes_for(api_client, "olivia", PASSWORD) == 1


def test_it_still_lets_the_owner_in_from_another_address(api_client, admin_user, settings):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert login(api_client, "ada", "wrong-password", address="203.0.113.9").status_code == 401
    assert login(api_client, "ada", address="203.0.113.9").status_code == 401  # locked for the guesser
    assert login(api_client, "ada", address="10.0.0.7").status_code == 200  # not for the Admin's own address


def test_it_keeps_the_guessing_address_locked_out(api_client, operator, settings):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        login(api_client, "olivia", "wrong-password", address="203.0.113.9")
    lockout = LoginLockout.objects.get(user=operator, address="203.0.113.9")
    assert lockout.locked_until is not None
    operator.refresh_from_db()
    assert operator.locked_until is None


def test_it_audits_the_lockout_with_the_address(api_client, operator, settings):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        login(api_client, "olivia", "wrong-password", address="203.0.113.9")
    record = AuditRecord.objects.get(action="auth.lockout", object_id=str(operator.pk))
    assert record.new_value["address"] == "203.0.113.9" and record.client_ip == "203.0.113.9"


def test_it_locks_the_account_for_everyone_when_many_addresses_are_locked_out(api_client, operator, settings):
    settings.LOGIN_MAX_FAILURES = 2
    settings.LOGIN_MAX_LOCKED_ADDRESSES = 3
    for n in range(3):
        for _ in range(2):
            login(api_client, "olivia", "wrong-password", address=f"198.51.100.{n}")
    operator.refresh_from_db()
    assert operator.locked_until is not None
    assert login(api_client, "olivia", address="10.0.0.7").status_code == 401
    assert AuditRecord.objects.filter(action="auth.lockout", new_value__address="*").count() == 1


def test_it_clears_only_the_count_of_the_address_that_logged_in(api_client, operator):
    login(api_client, "olivia", "wrong-password", address="203.0.113.9")
    login(api_client, "olivia", "wrong-password", address="10.0.0.7")
    assert login(api_client, "olivia", address="10.0.0.7").status_code == 200
    assert list(LoginLockout.objects.filter(user=operator).values_list("address", "failed_count")) == [
        ("203.0.113.9", 1)]
