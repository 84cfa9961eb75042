"""The screen editor's API: save (Engineer+), sanitized, validated against existing tags, versioned and audited,
restore, where used, and the tag picker."""

import pytest

from accounts.models import AuditRecord
from hmi.models import Screen, ScreenVersion
from hmi.tests.conftest import BINDINGS, SVG
from scada.api.testing import check_role_boundary, role_cases

CASES = role_cases(["hmi-api"])

NEW = {"name": "Tank farm", "slug": "tank-farm", "svg": SVG, "bindings": BINDINGS[:2]}


def _body(case, screen):
    if case.view_name == "hmi-api:screen-list" and case.method == "POST":
        counter = iter(range(1000))
        return lambda: {**NEW, "slug": f"new-{next(counter)}"}
    if case.view_name == "hmi-api:screen-detail" and case.method == "PUT":
        return {"name": "Renamed"}
    return None


def test_it_has_every_editor_route_in_the_matrix():
    assert {(c.view_name, c.method) for c in CASES} == {
        ("hmi-api:screen-list", "GET"), ("hmi-api:screen-list", "POST"), ("hmi-api:screen-detail", "GET"),
        ("hmi-api:screen-detail", "PUT"), ("hmi-api:screen-detail", "DELETE"), ("hmi-api:screen-versions", "GET"),
        ("hmi-api:screen-version-restore", "POST"), ("hmi-api:tag-picker", "GET")}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_it_enforces_the_minimum_role(case, client_as, screen):
    kwargs = {}
    if "slug" in case.kwargs:
        kwargs["slug"] = screen.slug
    if "number" in case.kwargs:
        kwargs["number"] = 1
    check_role_boundary(case, client_as=client_as, kwargs=kwargs, data=_body(case, screen))


def test_an_engineer_creates_a_screen_sanitized_versioned_and_audited(engineer_client, plant, engineer):
    svg = SVG.replace("<circle", '<script>alert(1)</script><circle onclick="x()"')
    res = engineer_client.post("/api/screens", {**NEW, "svg": svg}, format="json")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["slug"] == "tank-farm" and body["version"] == 1 and len(body["removed"]) == 2
    assert "script" not in body["svg"] and "onclick" not in body["svg"]
    screen = Screen.objects.get(slug="tank-farm")
    v = ScreenVersion.objects.get(screen=screen)
    assert v.number == 1 and v.created_by == engineer.username and v.bindings == screen.bindings
    assert AuditRecord.objects.get(action="screen.create").username == engineer.username


def test_it_refuses_a_binding_to_an_unknown_tag_naming_it_and_saves_nothing(engineer_client, plant):
    bindings = [*BINDINGS[:1], {"element": "level", "kind": "text", "tag": "No_Such_Tag"}]
    res = engineer_client.post("/api/screens", {**NEW, "bindings": bindings}, format="json")
    assert res.status_code == 400
    assert "No_Such_Tag" in res.json()["detail"]
    assert not Screen.objects.filter(slug="tank-farm").exists()
    assert not AuditRecord.objects.filter(action__startswith="screen.").exists()


def test_it_refuses_unknown_devices_and_screens_by_name(engineer_client, plant):
    bindings = [{"element": "pump", "kind": "click", "action": "device", "device": "pump-99"},
                {"element": "level", "kind": "click", "action": "screen", "screen": "nowhere"}]
    res = engineer_client.post("/api/screens", {**NEW, "bindings": bindings}, format="json")
    assert res.status_code == 400
    assert "pump-99" in res.json()["detail"] and "nowhere" in res.json()["detail"]


def test_a_screen_may_link_to_itself(engineer_client, plant):
    bindings = [{"element": "level", "kind": "click", "action": "screen", "screen": "tank-farm"}]
    assert engineer_client.post("/api/screens", {**NEW, "bindings": bindings}, format="json").status_code == 201


def test_it_refuses_absurd_numbers_in_bindings(engineer_client, plant):
    bindings = [{"element": "tank-fill", "kind": "fill", "tag": "Tank_Level", "min": 0, "max": 1e300}]
    res = engineer_client.post("/api/screens", {**NEW, "bindings": bindings}, format="json")
    assert res.status_code == 400 and "'max' must be a finite number" in res.json()["detail"]


def test_each_save_appends_a_version_and_restore_brings_an_old_one_back(engineer_client, screen, engineer):
    res = engineer_client.put("/api/screens/overview", {"name": "Overview 2", "bindings": BINDINGS[:1],
                                                        "version": 1}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["version"] == 2
    versions = engineer_client.get("/api/screens/overview/versions").json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[1]["tags"] == ["Tank_Level", "pump-01.Running", "pump-01.SpeedSetpoint"]
    res = engineer_client.post("/api/screens/overview/versions/1/restore")
    assert res.status_code == 200
    assert res.json()["version"] == 3 and res.json()["name"] == "Overview"
    assert len(res.json()["bindings"]) == len(BINDINGS)
    record = AuditRecord.objects.get(action="screen.restore")
    assert record.reason == "restored from version 1" and record.new_value["version"] == 3


def test_it_refuses_to_overwrite_a_newer_version_with_409(engineer_client, screen):
    assert engineer_client.put("/api/screens/overview", {"name": "A", "version": 1}, format="json").status_code == 200
    res = engineer_client.put("/api/screens/overview", {"name": "B", "version": 1}, format="json")
    assert res.status_code == 409 and "reload" in res.json()["detail"]
    assert Screen.objects.get(slug="overview").name == "A"


def test_restoring_a_version_that_does_not_exist_is_404(engineer_client, screen):
    for number in (7, 0, 10**30):
        res = engineer_client.post(f"/api/screens/overview/versions/{number}/restore")
        assert res.status_code == 404, number


def test_restore_refuses_a_version_whose_tag_was_deleted_since(engineer_client, screen, plant):
    engineer_client.put("/api/screens/overview", {"bindings": BINDINGS[:2]}, format="json")
    plant["pump-01.Running"].delete()
    res = engineer_client.post("/api/screens/overview/versions/1/restore")
    assert res.status_code == 400 and "pump-01.Running" in res.json()["detail"]


def test_an_operator_reads_a_screen_but_may_not_save_it(operator_client, screen):
    res = operator_client.get("/api/screens/overview")
    assert res.status_code == 200 and res.json()["bindings"] == screen.bindings and "<svg" in res.json()["svg"]
    assert operator_client.put("/api/screens/overview", {"name": "x"}, format="json").status_code == 403


def test_delete_removes_the_screen_and_its_versions_audited(engineer_client, screen):
    assert engineer_client.delete("/api/screens/overview").status_code == 204
    assert not ScreenVersion.objects.exists()
    assert AuditRecord.objects.get(action="screen.delete").old_value["slug"] == "overview"


def test_it_refuses_unknown_fields_and_bad_slugs(engineer_client, plant):
    assert engineer_client.post("/api/screens", {**NEW, "owner": 1}, format="json").status_code == 400
    res = engineer_client.post("/api/screens", {**NEW, "slug": "a b"}, format="json")
    assert res.status_code == 400 and "slug" in res.json()["detail"]


def test_where_used_lists_the_screens_binding_a_tag(operator_client, screen, engineer_client):
    engineer_client.post("/api/screens", NEW, format="json")
    used = operator_client.get("/api/screens?tag=pump-01.Running").json()["results"]
    assert [s["slug"] for s in used] == ["overview"]
    used = operator_client.get("/api/screens?tag=Tank_Level").json()["results"]
    assert sorted(s["slug"] for s in used) == ["overview", "tank-farm"]
    assert operator_client.get("/api/screens?tag=Nothing").json()["results"] == []


def test_the_tag_picker_matches_machine_name_description_and_member(engineer_client, plant):
    def names(query):
        res = engineer_client.get("/api/hmi/tag-picker?" + query)
        assert res.status_code == 200, res.content
        return [t["name"] for t in res.json()["results"]]

    assert names("search=tank") == ["Tank_Level"]
    assert names("search=speedsetpoint") == ["pump-01.SpeedSetpoint"]
    assert names("machine=pump-01") == ["pump-01.Running", "pump-01.SpeedSetpoint", "pump-01.Start"]
    assert names("search=pump+running") == ["pump-01.Running"]
    assert names("search=Pump+1") == ["pump-01.Running", "pump-01.SpeedSetpoint", "pump-01.Start"]
    assert engineer_client.get("/api/hmi/tag-picker?limit=999").status_code == 400


def test_it_refuses_nul_in_a_binding_naming_the_field(engineer_client, plant):
    bindings = [{"element": "level", "kind": "text", "tag": "Tank_Level", "labels": {"a\x00": "x"}}]
    res = engineer_client.post("/api/screens", {**NEW, "bindings": bindings}, format="json")
    assert res.status_code == 400 and res.json()["detail"].startswith("bindings: must not contain NUL")
    res = engineer_client.post("/api/screens", {**NEW, "name": "a\x00"}, format="json")
    assert res.status_code == 400 and res.json()["detail"].startswith("name: must not contain NUL")
