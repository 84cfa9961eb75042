"""A stopped or hung PostgreSQL: every request answers 503 with a reason, quickly, and health says so.

In-process tests point the default connection at a closed port (a stopped server) or at a listener that
accepts and never answers (a hung one); the daphne test runs the production stack (ASGI, psycopg pool) against
a hung server. The shared PostgreSQL is never touched.
"""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.models import User
from conftest import client_for
from scada.api import views as system_views
from scada.roles import Role
from tests.outage_helpers import HungServer, closed_port
from tests.servers import running_daphne

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def database_at(django_db_blocker):
    """point(port): the default database connection goes to 127.0.0.1:port until the test ends."""
    s = connection.settings_dict
    saved = {"HOST": s["HOST"], "PORT": s["PORT"]}

    def point(port: int):
        connection.close()
        s["HOST"], s["PORT"] = "127.0.0.1", str(port)

    with django_db_blocker.unblock():
        yield point
        pending = system_views._db_check_pending
        if pending is not None:
            pending.result(timeout=30)  # the status checker's stuck connect ends before the next test starts
        connection.close()
        s.update(saved)


@pytest.fixture(autouse=True)
def _revocations_cached(django_db_blocker):
    """As in a running plant: the revocation cache was loaded from PostgreSQL before the database went away
    (a cold cache with the database down refuses every token: revocation state unknown)."""
    from accounts.tokens import revocations_load

    with django_db_blocker.unblock():
        revocations_load()
        connection.close()


@pytest.fixture
def stopped_database(database_at):
    database_at(closed_port())


@pytest.fixture
def hung_database(database_at):
    server = HungServer()
    database_at(server.port)
    yield server
    server.close()


def _token_client():
    # The token needs no database (its claims are the principal); an unsaved user with an id is enough.
    return client_for(User(id=4242, username="olivia", role=Role.OPERATOR))


def test_it_answers_503_with_a_detail_on_the_api_when_the_database_is_stopped(stopped_database):
    r = _token_client().get("/api/tags")
    assert r.status_code == 503
    assert r.json() == {"detail": "Database unavailable: connection refused; try again shortly."}
    assert r["Retry-After"] == "5"


def test_it_answers_503_to_an_api_login_when_the_database_is_stopped(stopped_database, api_client):
    r = api_client.post("/api/auth/login", {"username": "olivia", "password": "correct-horse-battery"},
                        format="json")
    assert r.status_code == 503
    assert r.json()["detail"].startswith("Database unavailable: ")


def test_it_answers_503_to_an_api_request_within_the_connect_timeout_when_the_database_hangs(hung_database):
    started = time.monotonic()
    r = _token_client().get("/api/tags")
    assert r.status_code == 503
    assert r.json() == {"detail": "Database unavailable: connection timed out; try again shortly."}
    assert time.monotonic() - started < settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] + 2


def test_it_reports_health_down_when_the_database_is_stopped(stopped_database, api_client):
    r = api_client.get("/api/system/health")
    assert r.status_code == 503
    assert r.json() == {"status": "down", "detail": "Database unavailable: connection refused"}


@pytest.mark.django_db
def test_it_reports_health_ok_when_the_database_answers(api_client):
    r = api_client.get("/api/system/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_it_reports_the_database_down_in_status_within_a_bounded_time_when_it_hangs(hung_database):
    started = time.monotonic()
    r = _token_client().get("/api/system/status")
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "down"
    assert body["components"]["database"]["state"] == "down"
    assert body["components"]["database"]["error"].startswith("Database unavailable: ")
    assert body["components"]["redis"]["state"] == "ok"
    assert elapsed < system_views.DATABASE_CHECK_SECONDS + 1.5


def test_it_shows_a_503_page_on_an_hmi_page_when_the_database_is_stopped(stopped_database):
    # raise_request_exception=False: the session middleware meets the outage again on the way out (see below).
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "a-session-the-database-would-know"
    r = client.get("/trends/")
    assert r.status_code == 503
    page = r.content.decode()
    assert "Database unavailable: connection refused" in page and "Traceback" not in page
    assert r["Content-Type"].startswith("text/html")


def test_it_shows_a_503_page_on_hmi_login_when_the_database_is_stopped(stopped_database):
    r = Client().post("/login/", {"username": "olivia", "password": "correct-horse-battery"})
    assert r.status_code == 503
    assert "Database unavailable" in r.content.decode()


def test_it_answers_503_when_middleware_meets_the_outage_after_the_view(stopped_database):
    # The login page itself needs no database, but saving the session (SessionMiddleware) does: Django turns
    # that into a 500 before any middleware sees it, so handler500 must still say 503.
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "a-session-the-database-would-know"
    r = client.get("/login/")
    assert r.status_code == 503
    assert "Database unavailable: connection refused" in r.content.decode()


@pytest.fixture
def statement_timeout_300ms():
    """Every new connection gets DB_STATEMENT_TIMEOUT_MS=300 (off under tests by default)."""
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("options")
    options["options"] = "-c statement_timeout=300"
    connection.close()
    yield
    connection.close()
    if saved is None:
        options.pop("options")
    else:
        options["options"] = saved


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_a_query_outlasts_the_statement_timeout(operator_client, statement_timeout_300ms):
    s = connection.settings_dict
    locker = psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                             dbname=s["NAME"])
    try:
        locker.execute("LOCK TABLE tags_tag IN ACCESS EXCLUSIVE MODE")  # held until rollback: the list must wait
        started = time.monotonic()
        r = operator_client.get("/api/tags")
        took = time.monotonic() - started
    finally:
        locker.rollback()
        locker.close()
    assert r.status_code == 503
    assert r.json() == {"detail": "Database unavailable: a query took too long (statement timeout); try again shortly."}
    assert took < 2


def test_it_passes_the_statement_timeout_to_postgresql_from_the_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PYTEST", "DB_"))}
    env.update(DEBUG="1", DATABASE_URL="postgres://kiln@db.example:5432/kiln", DB_STATEMENT_TIMEOUT_MS="1234",
               DJANGO_SETTINGS_MODULE="scada.settings")
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['options'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "-c statement_timeout=1234", out.stderr


# --- the production stack: daphne, psycopg pool, a hung server -------------------------------------------------

@pytest.fixture
def daphne_on_hung_database(tmp_path):
    server = HungServer()
    db = connection.settings_dict
    hung = {"DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{server.port}/{db['NAME']}",
            "DB_CONNECT_TIMEOUT": None, "DB_POOL_TIMEOUT": None}  # the production defaults, not the suite's
    try:
        with running_daphne(tmp_path, env=hung, start_timeout=30) as ws_url:
            yield ws_url.replace("ws://", "http://", 1).removesuffix("/ws")
    finally:
        server.close()


def _call(url, *, data=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=orjson.dumps(data) if data is not None else None, headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    return status, orjson.loads(body), time.monotonic() - started


def test_it_answers_every_request_within_seconds_through_daphne_when_the_database_hangs(daphne_on_hung_database):
    base = daphne_on_hung_database
    token = _token_client().tokens["token"]

    status, body, took = _call(f"{base}/api/auth/login", data={"username": "olivia", "password": "x" * 12})
    assert status == 503 and body["detail"].startswith("Database unavailable: "), body
    assert took < 8, took  # bounded by DB_POOL_TIMEOUT (5 s), not a hang

    status, body, took = _call(f"{base}/api/tags", token=token)
    assert status == 503 and body["detail"].startswith("Database unavailable: "), body
    assert took < 8, took

    status, body, took = _call(f"{base}/api/system/health")
    assert status == 503 and body["status"] == "down", body
    assert took < 5, took

    status, body, took = _call(f"{base}/api/system/status", token=token)
    assert status == 200 and body["components"]["database"]["state"] == "down", body
    assert took < 5, took
