"""HMI pages: session login on top of the API's login service, the page token, logout revocation, role-aware
pages. Browser behaviour is in test_browser.py."""

import re

import pytest
from django.test import Client

from accounts.models import AuditRecord
from conftest import PASSWORD
from tags.live import live_get_many
from tags.values import Sample, tag_values_record


def login(user, client=None) -> Client:
    client = client or Client()
    client.get("/login/")
    res = client.post("/login/", {"username": user.username, "password": PASSWORD, "next": "/",
                                  "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert res.status_code == 302, res.content[:300]
    return client


def csrf_client(user) -> Client:
    client = login(user, Client(enforce_csrf_checks=True))
    return client


def page_token(client) -> str:
    client.get("/tags/")  # sets the CSRF cookie
    res = client.post("/hmi/token", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert res.status_code == 200, res.content
    return res.json()["token"]


def test_it_redirects_pages_to_the_login(db):
    for path in ("/", "/tags/", "/trends/", "/alarms/", "/alarms/journal/", "/alarms/kpis/", "/screens/"):
        res = Client().get(path)
        assert res.status_code == 302 and res["Location"].startswith("/login/?next="), path


def test_it_logs_in_through_the_audited_login_service(operator):
    client = login(operator)
    assert AuditRecord.objects.filter(action="auth.login", username=operator.username).count() == 1
    assert client.get("/tags/").status_code == 200


def test_it_refuses_a_wrong_password_and_counts_it(operator):
    res = Client().post("/login/", {"username": operator.username, "password": "wrong-password"})
    assert res.status_code == 200
    assert b"Invalid username or password." in res.content
    operator.refresh_from_db()
    assert operator.failed_login_count == 1
    assert AuditRecord.objects.filter(action="auth.login_failed", username=operator.username).exists()


def test_it_ignores_an_offsite_next(operator):
    res = Client().post("/login/", {"username": operator.username, "password": PASSWORD,
                                    "next": "https://evil.example/"})
    assert res["Location"] == "/"


def test_it_issues_a_page_token_only_with_csrf(operator):
    client = csrf_client(operator)
    client.get("/tags/")
    assert client.post("/hmi/token").status_code == 403  # no CSRF header
    token = page_token(client)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    me = api.get("/api/users/me")
    assert me.status_code == 200 and me.json()["username"] == operator.username


def test_it_refuses_a_page_token_without_a_session(db):
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    res = client.post("/hmi/token", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert res.status_code == 401


def test_it_revokes_the_page_tokens_at_logout(operator):
    client = csrf_client(operator)
    token = page_token(client)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/users/me").status_code == 200
    res = client.post("/logout/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert res.status_code == 302
    assert api.get("/api/users/me").status_code == 401
    assert client.get("/tags/").status_code == 302
    assert AuditRecord.objects.filter(action="auth.logout", username=operator.username).exists()


def test_it_ends_the_session_when_the_page_locks(operator):
    client = csrf_client(operator)
    token = page_token(client)
    res = client.post("/hmi/lock", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert res.status_code == 200
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/users/me").status_code == 401
    assert client.get("/").status_code == 302


def test_it_refuses_logout_by_get(operator):
    client = login(operator)
    assert client.get("/logout/").status_code == 405


def test_it_renders_the_home_screen_with_first_values(operator, screen, plant):
    tag_values_record(samples=[Sample(tag_id=plant["Tank_Level"].pk, value=42.5)])
    res = login(operator).get("/")
    assert res.status_code == 200
    html = res.content.decode()
    assert 'id="tank-fill"' in html
    assert '"Tank_Level": {"value": 42.5, "quality": "GOOD"' in html
    assert "default-src 'self'" in res["Content-Security-Policy"]


def test_it_loads_no_asset_from_outside_kiln(operator, screen):
    client = login(operator)
    for path in ("/", "/tags/", "/trends/?tags=Tank_Level", "/alarms/", "/alarms/journal/", "/alarms/kpis/",
                 "/screens/", "/login/"):
        html = client.get(path).content.decode()
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not re.match(r"^(https?:)?//", url), f"{path} loads {url}"


def test_it_offers_writes_only_to_roles_that_may_write(operator, supervisor, plant):
    html = login(operator).get("/tags/").content.decode()
    assert 'class="act-write" data-tag="pump-01.SpeedSetpoint"' in html
    assert 'class="act-write" data-tag="Reactor_Temp_SP"' not in html
    html = login(supervisor).get("/tags/").content.decode()
    assert 'class="act-write" data-tag="Reactor_Temp_SP"' in html


def test_it_filters_the_tag_browser_by_quality(operator, plant):
    tag_values_record(samples=[Sample(tag_id=plant["Tank_Level"].pk, value=1.0, quality="BAD",
                                      substatus="comm_failure"),
                               Sample(tag_id=plant["pump-01.Running"].pk, value=True)])
    html = login(operator).get("/tags/?quality=BAD").content.decode()
    assert 'data-tag="Tank_Level"' in html and 'data-tag="pump-01.Running"' not in html
    assert len(live_get_many([plant["Tank_Level"].pk])) == 1


def test_it_shows_only_commands_the_role_may_run(operator, screen):
    html = login(operator).get("/").content.decode()
    assert '"id": "start"' in html and '"min_role_level": 10' in html
    # The page lists every command with its minimum role; the dialog offers only those the role reaches.
    assert '"id": "reset"' in html and '"min_role_level": 20' in html


def test_it_marks_unknown_tags_on_a_screen(operator, plant, engineer):
    from hmi.services import screen_save
    from hmi.tests.conftest import SVG

    screen_save(actor=engineer, data={"name": "S", "slug": "s", "svg": SVG,
                                      "bindings": [{"element": "level", "kind": "text", "tag": "Tank_Level"}]})
    plant["Tank_Level"].delete()  # a tag deleted after the screen was saved
    html = login(operator).get("/screens/s/").content.decode()
    assert "Unknown tags on this screen" in html and "Tank_Level" in html


@pytest.mark.parametrize("path", ["/screens/nope/"])
def test_it_answers_404_for_an_unknown_screen(operator, path):
    assert login(operator).get(path).status_code == 404


def test_it_serves_the_vendored_chart_library_itself(operator):
    # scripts/install.sh copies uPlot from node_modules (package-lock.json) into static/vendor/.
    res = login(operator).get("/static/vendor/uplot/uPlot.iife.min.js")
    assert res.status_code == 200, "static/vendor/uplot is missing: run scripts/install.sh (npm ci)"
    assert b"uPlot" in b"".join(res.streaming_content)


def test_the_screen_editor_is_for_engineers_only(operator, supervisor, engineer, screen):
    for user in (operator, supervisor):
        client = login(user)
        assert client.get("/editor/").status_code == 403
        assert client.get("/editor/overview/").status_code == 403
        assert "/editor/overview/" not in client.get("/screens/overview/").content.decode()
        assert "/editor/" not in client.get("/screens/").content.decode()
    client = login(engineer)
    html = client.get("/editor/overview/").content.decode()
    assert 'id="editor-canvas"' in html and '"slug": "overview"' in html and '"pump-01"' in html
    assert client.get("/editor/").status_code == 200
    assert 'href="/editor/overview/"' in client.get("/screens/overview/").content.decode()
    assert 'href="/editor/overview/"' in client.get("/screens/").content.decode()
    assert client.get("/editor/nope/").status_code == 404


def test_a_screen_page_carries_its_tags_decimals_alarm_limits_and_its_devices_members(operator, screen, plant):
    import json

    from alarms.models import AlarmDefinition
    from alarms.services import alarm_instances_sync
    from tags.models import Tag

    plant["Tank_Level"].decimals = 1
    plant["Tank_Level"].save(update_fields=["decimals"])
    AlarmDefinition.objects.create(key="tank_hi", name="Tank High", tag=plant["Tank_Level"], kind="HI",
                                   setpoint=90.0, priority="high")
    alarm_instances_sync()
    Tag.objects.create(machine=plant["pump-01.Running"].machine, name="pump-01.Speed", member="Speed",
                       datatype="REAL", unit="RPM")  # read-only and on no binding
    html = login(operator).get("/").content.decode()
    config = json.loads(re.search(r'<script id="kiln-config" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))
    assert config["tags"]["Tank_Level"]["decimals"] == 1
    assert [(x["kind"], x["setpoint"]) for x in config["alarm_limits"]["Tank_Level"]] == [("HI", 90.0)]
    # The device faceplate shows status and key values, not only what can be written.
    assert "pump-01.Speed" in config["devices"]["pump-01"]["members"]


def test_the_journal_page_carries_the_decimals_of_the_tags_with_alarms(operator, plant):
    from alarms.models import AlarmDefinition
    from alarms.services import alarm_instances_sync

    plant["Tank_Level"].decimals = 2
    plant["Tank_Level"].save(update_fields=["decimals"])
    AlarmDefinition.objects.create(key="tank_hi", name="Tank High", tag=plant["Tank_Level"], kind="HI",
                                   setpoint=90.0, priority="high")
    alarm_instances_sync()
    html = login(operator).get("/alarms/journal/").content.decode()
    assert '"tag_decimals": {"Tank_Level": 2}' in html
