"""Rate limits (seed 000 RATE LIMITS): Redis counters, atomic under parallel requests, per IP or per token."""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.db import connections
from rest_framework.test import APIClient

from conftest import PASSWORD, client_for
from scada.middleware import client_ip_from_meta
from scada.roles import Role

# Frozen 10 s into a minute, so no test straddles two rate windows; the window then resets in 50 s (+1).
FROZEN = datetime(2026, 3, 1, 8, 0, 10, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(FROZEN, tick=False):
        yield


def login(client, username="olivia", password=PASSWORD, **extra):
    return client.post("/api/auth/login", {"username": username, "password": password}, format="json", **extra)


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_ten_parallel_logins_per_ip_through(frozen, make_user):
    make_user("olivia", Role.OPERATOR)
    attempts = 16
    barrier = threading.Barrier(attempts)

    def attempt(_):
        client = APIClient()  # one client per thread: nothing shared but the server side
        try:
            barrier.wait(timeout=30)  # all requests leave together
            return login(client)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        responses = list(pool.map(attempt, range(attempts)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429] * 6


@pytest.mark.django_db
def test_it_answers_the_eleventh_login_with_429_retry_after_and_detail(frozen, operator):
    client = APIClient()
    assert [login(client, password="wrong-password").status_code for _ in range(10)] == [401] * 10
    r = login(client)
    assert r.status_code == 429
    assert r["Retry-After"] == "51"
    assert r.json() == {"detail": "API rate limit exceeded; retry in 51 s."}
    assert (r["X-RateLimit-Limit"], r["X-RateLimit-Remaining"]) == ("10", "0")


@pytest.mark.django_db
def test_it_puts_rate_limit_headers_on_api_responses(frozen, operator_client):
    first = operator_client.get("/api/users/me")
    second = operator_client.get("/api/users/me")
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("100", "99")
    assert second["X-RateLimit-Remaining"] == "98"


@pytest.mark.django_db
def test_it_allows_100_requests_a_minute_per_token_by_default(frozen, operator):
    client = client_for(operator)
    assert {client.get("/api/users/me").status_code for _ in range(100)} == {200}
    r = client.get("/api/users/me")
    assert r.status_code == 429 and r["Retry-After"] == "51"
    assert client_for(operator).get("/api/users/me").status_code == 200  # another token has its own budget


@pytest.mark.django_db
def test_it_reads_limits_from_settings_at_request_time(frozen, operator_client, settings):
    settings.KILN_RATE_LIMITS = {**settings.KILN_RATE_LIMITS, "default": 3}
    assert [operator_client.get("/api/users/me").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_it_takes_every_rate_limit_from_the_environment():
    env = {**os.environ, "KILN_RATE_LIMIT_DEFAULT": "7", "KILN_RATE_LIMIT_HISTORY": "6",
           "KILN_RATE_LIMIT_TAG_WRITE": "5", "KILN_RATE_LIMIT_LOGIN": "4", "DJANGO_SETTINGS_MODULE": "scada.settings",
           "KILN_TESTING": "1"}
    code = ("import django, json; django.setup(); from django.conf import settings; "
            "print(json.dumps(settings.KILN_RATE_LIMITS))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == {"default": 7, "history": 6, "tag_write": 5, "login": 4}


@pytest.mark.django_db
def test_it_ignores_x_forwarded_for_from_an_untrusted_peer(settings, frozen):
    settings.TRUSTED_PROXIES = []
    client = APIClient()
    statuses = [login(client, "nobody", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(11)]
    assert statuses == [401] * 10 + [429]  # one bucket: the socket's address


@pytest.mark.django_db
def test_it_counts_logins_per_forwarded_ip_behind_a_trusted_proxy(settings, frozen):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    client = APIClient()
    for _ in range(10):
        login(client, "nobody", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert login(client, "nobody", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert login(client, "nobody", HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 401


def test_it_takes_the_rightmost_untrusted_hop_so_a_client_cannot_forge_its_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.9, 203.0.113.5, 10.0.0.1"}
    assert client_ip_from_meta(meta) == "203.0.113.5"


def test_it_uses_the_socket_address_when_the_forwarded_header_is_garbage(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client_ip_from_meta({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "<script>"}) == "127.0.0.1"


@pytest.mark.django_db
def test_it_puts_rate_limit_headers_on_a_401(frozen, api_client):
    r = api_client.get("/api/users/me", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert r.status_code == 401
    assert (r["X-RateLimit-Limit"], r["X-RateLimit-Remaining"]) == ("100", "99")


@pytest.mark.django_db
def test_it_puts_rate_limit_headers_on_a_403(frozen, operator_client):
    r = operator_client.get("/api/users")  # Admin only
    assert r.status_code == 403
    assert (r["X-RateLimit-Limit"], r["X-RateLimit-Remaining"]) == ("100", "99")


@pytest.mark.django_db
def test_it_counts_requests_with_bad_tokens_per_address(frozen, api_client, settings):
    settings.KILN_RATE_LIMITS = {**settings.KILN_RATE_LIMITS, "default": 3}
    statuses = [api_client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer bad-{i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    other = api_client.get("/api/users/me", HTTP_AUTHORIZATION="Bearer bad", REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 401  # another address has its own budget
