"""The configuration API: Admin only, dry run first, 422 naming the bad object, nothing changed on refusal."""

import copy
import json

import pytest

from conftest import client_for
from tags.models import Tag

pytestmark = pytest.mark.django_db


def test_an_admin_exports_the_bundle(demo_plant, admin_client):
    response = admin_client.get("/api/config/export")
    assert response.status_code == 200
    assert response.json()["format"] == "kiln-config"
    assert len(response.json()["sections"]["tags"]) == Tag.objects.count()


@pytest.mark.parametrize("method,url", [("get", "/api/config/export"), ("post", "/api/config/import")])
def test_an_engineer_may_not_export_or_import(demo_plant, engineer, method, url):
    response = getattr(client_for(engineer), method)(url, {}, format="json")
    assert response.status_code == 403


def test_a_dry_run_answers_the_diff_and_changes_nothing(demo_plant, admin_client):
    bundle = admin_client.get("/api/config/export").json()
    tag = bundle["sections"]["tags"][0]
    tag["unit"] = "furlongs"

    response = admin_client.post("/api/config/import", {"bundle": bundle, "dry_run": True}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["applied"] is False and body["detail"] == "tags: 1 changed"
    assert body["sections"]["tags"]["changed"][0]["fields"]["unit"]["new"] == "furlongs"
    assert Tag.objects.get(name=tag["name"]).unit != "furlongs"


def test_an_import_applies_and_a_repeat_says_no_changes(demo_plant, admin_client):
    bundle = admin_client.get("/api/config/export").json()
    bundle["sections"]["tags"][0]["unit"] = "furlongs"

    first = admin_client.post("/api/config/import", {"bundle": bundle, "reason": "units"}, format="json")
    second = admin_client.post("/api/config/import", {"bundle": bundle}, format="json")

    assert first.status_code == 200 and first.json()["applied"] is True
    assert Tag.objects.get(name=bundle["sections"]["tags"][0]["name"]).unit == "furlongs"
    assert second.json()["detail"] == "no changes" and second.json()["applied"] is False


def test_a_bad_object_is_a_422_naming_it_and_nothing_changes(demo_plant, admin_client):
    bundle = admin_client.get("/api/config/export").json()
    original = copy.deepcopy(bundle)
    bundle["sections"]["tags"][0]["unit"] = "furlongs"
    bundle["sections"]["tags"][1]["deadband"] = -1

    response = admin_client.post("/api/config/import", {"bundle": bundle}, format="json")

    assert response.status_code == 422
    name = bundle["sections"]["tags"][1]["name"]
    assert f"tags '{name}': deadband: must be ≥ 0" in response.json()["detail"]
    assert response.json()["problems"] == [{"section": "tags", "file": "tags.json", "key": name,
                                            "problem": "deadband: must be ≥ 0"}]
    assert admin_client.get("/api/config/export").json()["sections"] == original["sections"]


def test_not_a_bundle_is_a_400(demo_plant, admin_client):
    response = admin_client.post("/api/config/import", {"bundle": {"format": "zip"}}, format="json")
    assert response.status_code == 400
    assert "Not a configuration bundle" in response.json()["detail"]


def test_an_engineer_reads_the_bundle_schema(db, engineer):
    response = client_for(engineer).get("/api/config/schema")
    assert response.status_code == 200
    tags = response.json()["properties"]["sections"]["properties"]["tags"]["items"]
    assert tags["required"] == ["name", "machine", "datatype"]


@pytest.mark.parametrize("text,problem", [("a\x00b", "contains a NUL character"),
                                          ("\ud800", "is not valid UTF-8 text (a lone surrogate)")])
def test_a_nul_or_lone_surrogate_in_a_field_is_a_422_naming_it(demo_plant, admin_client, text, problem):
    bundle = admin_client.get("/api/config/export").json()
    bundle["sections"]["tags"][0]["description"] = text

    # As a client sends it: JSON escapes (\\u0000, \\ud800) in ASCII.
    response = admin_client.post("/api/config/import", json.dumps({"bundle": bundle}),
                                 content_type="application/json")

    assert response.status_code == 422
    assert response.json()["problems"][0]["problem"] == f"description: {problem}"
