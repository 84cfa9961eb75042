"""System endpoints, deployment checks and the API documentation."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scada.redis import reset_redis_client
from tests.servers import OwnRedis

ROOT = Path(__file__).resolve().parents[2]  # the repository
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.mark.django_db
def test_it_reports_each_component_of_the_system(operator_client):
    r = operator_client.get("/api/system/status")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == "0.1.0" and isinstance(body["uptime_seconds"], int)
    assert body["components"]["database"]["state"] == "ok"
    assert body["components"]["redis"]["state"] == "ok"
    assert body["components"]["celery"]["state"] in ("ok", "down")  # no worker runs under the suite


@pytest.fixture
def redis_unreachable(settings):
    settings.REDIS_URL = CLOSED_PORT_URL
    settings.CELERY_BROKER_URL = CLOSED_PORT_URL
    reset_redis_client()
    yield
    reset_redis_client()


@pytest.mark.django_db
def test_it_answers_status_with_redis_down_instead_of_failing(operator_client, redis_unreachable):
    started = time.monotonic()
    r = operator_client.get("/api/system/status")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "degraded"
    assert body["components"]["database"]["state"] == "ok"
    assert body["components"]["redis"]["state"] == "down" and "connecting" in body["components"]["redis"]["error"]
    assert body["components"]["celery"] == {"state": "down", "workers": [],
                                            "error": body["components"]["celery"]["error"]}
    assert time.monotonic() - started < 3  # a dead broker does not hold the page


@pytest.mark.django_db
def test_it_still_refuses_a_disabled_user_on_status_with_redis_down(operator, operator_client, redis_unreachable):
    operator.is_active = False
    operator.save()
    assert operator_client.get("/api/system/status").status_code == 401


@pytest.mark.django_db
def test_it_answers_503_elsewhere_with_redis_down(operator_client, redis_unreachable):
    # Without the revocation store a logged-out token cannot be told apart: fail closed, as JSON.
    r = operator_client.get("/api/users/me")
    assert r.status_code == 503
    assert r.json() == {"detail": "Authentication is unavailable (Redis unreachable); try again shortly."}


@pytest.mark.django_db
def test_it_refuses_logins_with_redis_down(api_client, operator, redis_unreachable):
    r = api_client.post("/api/auth/login", {"username": "olivia", "password": "correct-horse-battery"},
                        format="json")
    assert r.status_code == 503
    assert "rate-limit store unreachable" in r.json()["detail"]


def test_it_passes_the_deployment_checks_with_production_settings(tmp_path):
    durable = OwnRedis(tmp_path)  # appendonly yes, as docs/deployment.md asks (historian.E001 otherwise)
    durable.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PYTEST"))}
    env.update(DEBUG="0", SECRET_KEY="k" * 20 + "-production-secret-" + "q" * 20, ALLOWED_HOSTS="scada.plant.example",
               DJANGO_SETTINGS_MODULE="scada.settings", REDIS_URL=durable.url)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    durable.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_refuses_to_start_in_production_with_the_demo_secret_key():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PYTEST"))}
    env.update(DEBUG="0", SECRET_KEY="kiln-demo-insecure-secret-key-change-me", ALLOWED_HOSTS="scada.plant.example")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value" in result.stderr


def test_it_generates_the_foundation_schema_without_warnings(tmp_path):
    # Only the foundation's own routes: other apps' views are checked by their own tests.
    env = {**os.environ, "DEBUG": "1"}
    out = tmp_path / "schema.yaml"
    result = subprocess.run([sys.executable, "manage.py", "spectacular", "--urlconf", "scada.tests.urls_foundation",
                             "--validate", "--fail-on-warn", "--file", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    schema = out.read_text()
    assert "/api/auth/login:" in schema and "/api/audit/{id}:" in schema and "/api/system/status:" in schema


@pytest.mark.django_db
def test_it_serves_the_schema_without_a_token(api_client):
    r = api_client.get("/api/schema/")
    assert r.status_code == 200
    assert b"openapi: 3" in r.content


@pytest.mark.django_db
def test_it_serves_the_interactive_docs_from_local_static_files_only(api_client):
    r = api_client.get("/api/docs/")
    assert r.status_code == 200
    page = r.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert not re.search(r"cdn|unpkg|jsdelivr|https?://", page, re.I)
    for asset in assets:
        assert api_client.get(asset).status_code == 200, asset  # and Kiln serves each of them itself
