"""Kiln's own 404/403/500 pages, the page a non-engineer meets at /admin/, and /favicon.ico."""

from django.test import Client, override_settings

from hmi.tests.test_views import login


def test_a_missing_page_is_kilns_404_with_nav_and_banner(operator):
    res = login(operator).get("/screens/no-such-screen/")
    body = res.content.decode()
    assert res.status_code == 404
    assert "Page not found" in body and "/screens/no-such-screen/" in body
    assert 'id="alarm-banner"' in body and 'href="/alarms/"' in body and "kiln-config" in body


def test_a_missing_page_for_an_anonymous_visitor_offers_the_sign_in(db):
    res = Client().get("/nothing-here/")
    body = res.content.decode()
    assert res.status_code == 404 and "Page not found" in body and 'href="/login/"' in body
    assert "alarm-banner" not in body  # nothing live without a session


def test_an_api_404_stays_json(db):
    res = Client().get("/api/no-such-route")
    assert res.status_code == 404 and res.json() == {"detail": "Not found."}


def test_an_operator_opening_admin_gets_a_friendly_refusal(operator):
    res = login(operator).get("/admin/", follow=True)
    body = res.content.decode()
    assert res.status_code == 403
    assert "Configuration is for engineers" in body and "olivia" in body and "Engineer" in body
    assert "not authorized" not in body and 'id="alarm-banner"' in body


def test_an_engineer_still_reaches_admin_and_anonymous_gets_its_login(engineer, db):
    assert login(engineer).get("/admin/").status_code == 200
    res = Client().get("/admin/", follow=True)
    assert res.status_code == 200 and 'name="password"' in res.content.decode()


@override_settings(DEBUG=False)
def test_a_server_error_page_is_kilns_without_the_database(db):
    from django.test import RequestFactory

    from scada.outage import server_error

    try:
        raise ValueError("boom")
    except ValueError:
        res = server_error(RequestFactory().get("/tags/"))
    body = res.content.decode()
    assert res.status_code == 500 and "Something went wrong" in body and 'href="/"' in body


def test_favicon_ico_is_answered(db):
    res = Client().get("/favicon.ico")
    assert res.status_code == 301 and res["Location"].endswith("favicon.svg")
