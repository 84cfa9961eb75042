"""Engineers upload screens in Django admin; the upload is sanitized and audited; operators cannot."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import AuditRecord
from conftest import PASSWORD
from hmi.models import Screen
from hmi.tests.conftest import SVG


def admin_login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_it_sanitizes_an_uploaded_svg(engineer, plant):
    evil = SVG.replace("<circle", '<script>fetch("http://x")</script><circle onmouseover="alert(1)"')
    upload = SimpleUploadedFile("screen.svg", evil.encode(), content_type="image/svg+xml")
    res = admin_login(engineer).post("/admin/hmi/screen/add/", {
        "name": "Uploaded", "slug": "uploaded", "description": "", "sort_order": 100, "svg_file": upload, "svg": "",
        "bindings": '[{"element": "level", "kind": "text", "tag": "Tank_Level"}]',
    }, follow=True)
    assert res.status_code == 200
    screen = Screen.objects.get(slug="uploaded")
    assert "script" not in screen.svg and "onmouseover" not in screen.svg and "http://x" not in screen.svg
    assert screen.bindings == [{"element": "level", "kind": "text", "tag": "Tank_Level"}]
    assert "Sanitizing removed 2 item(s)" in res.content.decode()
    assert AuditRecord.objects.filter(action="screen.create", username=engineer.username).exists()


def test_it_shows_binding_errors_and_saves_nothing(engineer, plant):
    res = admin_login(engineer).post("/admin/hmi/screen/add/", {
        "name": "Bad", "slug": "bad", "sort_order": 100, "svg": SVG,
        "bindings": '[{"element": "ghost", "kind": "text", "tag": "Tank_Level"}]',
    })
    assert res.status_code == 200
    assert "no element with id &#x27;ghost&#x27;" in res.content.decode()
    assert not Screen.objects.exists()


def test_it_keeps_operators_out_of_screen_configuration(operator):
    client = Client()
    client.login(username=operator.username, password=PASSWORD)
    res = client.get("/admin/hmi/screen/")
    assert res.status_code == 302 and "/admin/login/" in res["Location"]


def test_the_admin_refuses_a_binding_to_an_unknown_tag_naming_it(engineer, plant):
    res = admin_login(engineer).post("/admin/hmi/screen/add/", {
        "name": "X", "slug": "x", "description": "", "sort_order": 100, "svg": SVG,
        "bindings": '[{"element": "level", "kind": "text", "tag": "Tank_Levle"}]',
    })
    assert res.status_code == 200 and "unknown tag(s): Tank_Levle" in res.content.decode()
    assert not Screen.objects.filter(slug="x").exists()


def test_a_tags_admin_page_shows_the_screens_that_use_it(engineer, screen, plant):
    client = admin_login(engineer)
    html = client.get(f"/admin/tags/tag/{plant['Tank_Level'].pk}/change/").content.decode()
    assert "Used on" in html and 'href="/screens/overview/"' in html and "screen Overview" in html
    html = client.get(f"/admin/tags/tag/{plant['Reactor_Temp_SP'].pk}/change/").content.decode()
    assert 'href="/screens/overview/"' not in html


def test_renaming_a_tag_in_admin_names_the_screens_still_bound_to_the_old_name(engineer, screen, plant):
    from django.forms.models import model_to_dict

    tag = plant["Tank_Level"]
    data = {k: ("" if v is None else v) for k, v in model_to_dict(tag).items() if k not in ("id", "last_write_by")}
    data["name"] = "Tank_Level_2"
    res = admin_login(engineer).post(f"/admin/tags/tag/{tag.pk}/change/", data, follow=True)
    html = res.content.decode()
    assert "Renamed from Tank_Level" in html and "screen Overview" in html, html[:3000]


def test_the_tag_delete_confirmation_names_the_screens_using_it(admin_user, screen, plant):
    html = admin_login(admin_user).get(f"/admin/tags/tag/{plant['Tank_Level'].pk}/delete/").content.decode()
    assert "Used on" in html and "screen Overview" in html


def test_the_screen_admin_links_to_the_editor_and_shows_the_version(engineer, screen):
    client = admin_login(engineer)
    assert 'href="/editor/overview/"' in client.get("/admin/hmi/screen/").content.decode()
    html = client.get(f"/admin/hmi/screen/{screen.pk}/change/").content.decode()
    assert 'href="/editor/overview/"' in html and "v1" in html
