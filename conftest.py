"""Suite-wide fixtures: real PostgreSQL and Redis, one persona per role, authenticated API clients."""

import os

import pytest
from django.conf import settings
from django.db import connection

from scada.roles import Role

# Fixtures that several apps' tests share (tests/fixtures.py); an app's own fixtures stay in its conftest.py.
pytest_plugins = ["tests.fixtures"]


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql" and not os.environ.get("KILN_TEST_ALLOW_SQLITE"):
        raise pytest.UsageError(
            "Kiln's tests run against PostgreSQL: set DATABASE_URL=postgres://... (make test does this)."
        )
    config.addinivalue_line("markers", "postgresql: needs PostgreSQL (COPY, partitions, rollups, advisory locks)")
    config.addinivalue_line("markers", "sqlite: tests the SQLite (demo) branch of code that has a PostgreSQL one")


def pytest_runtest_setup(item):
    # make test runs the historian suite a second time on SQLite (scripts/test.sh): each backend's own tests
    # run on that backend, with the reason in the report when one is run on the other by hand.
    vendor = "postgresql" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"
    for backend in ("postgresql", "sqlite"):
        if item.get_closest_marker(backend) and vendor != backend:
            pytest.skip(f"tests the {backend} branch; this run is on {vendor}")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    # Let transactional tests reset the append-only audit table in this throw-away database only.
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(f"ALTER DATABASE {connection.settings_dict['NAME']} SET kiln.allow_audit_truncate = 'on'")
            connection.close()


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database (the suite's own, REDIS_URL in make test)."""
    from scada.redis import get_redis

    r = get_redis()
    r.flushdb()
    yield


@pytest.fixture(autouse=True)
def _fresh_partition_cache():
    """The historian writer caches partition ranges per process. A test's rolled-back transaction (or a
    transactional test's cleanup) can remove a partition the cache still lists, so each test starts without it."""
    from historian.writer_store import coverage

    coverage.forget()
    yield


def _make_user(username, role, password="correct-horse-battery"):  # noqa: S107 - the personas' test password
    from accounts.models import User

    user = User(username=username, role=role, email=f"{username}@plant.example")
    user.set_password(password)
    user.save()
    return user


@pytest.fixture
def make_user(db):
    return _make_user


@pytest.fixture
def operator(db):
    return _make_user("olivia", Role.OPERATOR)


@pytest.fixture
def supervisor(db):
    return _make_user("sam", Role.SUPERVISOR)


@pytest.fixture
def engineer(db):
    return _make_user("erin", Role.ENGINEER)


@pytest.fixture
def admin_user(db):
    return _make_user("ada", Role.ADMIN)


PASSWORD = "correct-horse-battery"


def client_for(user):
    """An APIClient carrying a fresh access token for `user` (as a login would issue)."""
    from rest_framework.test import APIClient

    from accounts.tokens import issue_token_pair

    client = APIClient()
    if user is not None:
        pair = issue_token_pair(user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['token']}")
        client.tokens = pair
    client.user = user
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def operator_client(operator):
    return client_for(operator)


@pytest.fixture
def supervisor_client(supervisor):
    return client_for(supervisor)


@pytest.fixture
def engineer_client(engineer):
    return client_for(engineer)


@pytest.fixture
def admin_client(admin_user):
    return client_for(admin_user)


@pytest.fixture
def client_as():
    """client_as(role) → an authenticated client for a fresh user of that role."""
    counter = {"n": 0}

    def make(role):
        counter["n"] += 1
        return client_for(_make_user(f"{Role(role).label}{counter['n']}", role))

    return make
