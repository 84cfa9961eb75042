"""HMI pages while Redis is down: they render with a visible degraded banner and unknown live values, not 500.
(A database outage gets a 503 page: tests/test_database_outage.py.)"""

import pytest

from hmi.tests.test_views import login
from scada.redis import reset_redis_client

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def logged_in_then_redis_down(operator, settings):
    client = login(operator)  # while Redis is up: the login itself needs its rate-limit counter
    settings.REDIS_URL = CLOSED_PORT_URL
    reset_redis_client()
    yield client
    reset_redis_client()


@pytest.mark.parametrize("path", ["/", "/screens/overview/", "/tags/", "/tags/?quality=GOOD"])
def test_it_renders_live_pages_with_a_degraded_banner_when_redis_is_down(screen, logged_in_then_redis_down, path):
    r = logged_in_then_redis_down.get(path)
    assert r.status_code == 200
    page = r.content.decode()
    assert 'id="degraded-banner"' in page and "live values are unavailable (Redis unreachable)" in page


def test_it_shows_live_values_as_unknown_when_redis_is_down(screen, logged_in_then_redis_down):
    r = logged_in_then_redis_down.get("/screens/overview/")
    assert r.context["config"]["live"] == {} and r.context["config"]["live_unavailable"] is True


def test_it_shows_no_degraded_banner_while_redis_answers(operator, screen):
    page = login(operator).get("/screens/overview/").content.decode()
    assert 'id="degraded-banner"' not in page


def test_it_answers_503_for_the_page_token_when_redis_is_down_and_keeps_the_session(screen,
                                                                                     logged_in_then_redis_down):
    client = logged_in_then_redis_down
    client.get("/tags/")  # the CSRF cookie
    r = client.post("/hmi/token", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert r.status_code == 503
    assert r.json() == {"detail": "Authentication is unavailable (Redis unreachable); try again shortly."}
    assert client.get("/tags/").status_code == 200  # still logged in: an outage is no reason to sign out
