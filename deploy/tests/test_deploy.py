"""Deploys on one instance: a test instance without a target or with production down, and production's side
(receive, base-version check, versions, rollback) driven through its API. The two-server path: tests/test_deploy_e2e.py.
"""

import gzip
import json

import pytest

from accounts.models import AuditRecord, Signature
from conftest import PASSWORD, client_for
from deploy.models import ConfigVersion
from tags.models import Tag
from tests.servers import free_port

pytestmark = pytest.mark.django_db

SIGNATURE = {"password": PASSWORD, "meaning": "Approved", "reason": "promote tested configuration"}


@pytest.fixture
def production(settings):
    settings.KILN_INSTANCE_ROLE = "production"
    settings.KILN_INSTANCE_NAME = "prod-1"


@pytest.fixture
def test_instance(settings):
    settings.KILN_INSTANCE_ROLE = "test"
    settings.KILN_INSTANCE_NAME = "test-1"
    settings.KILN_DEPLOY_TARGET_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.KILN_DEPLOY_TARGET_API_KEY = "kiln_unused"
    settings.KILN_DEPLOY_TIMEOUT_SECONDS = 2


def _receive(client, bundle, **fields):
    return client.post("/api/system/deploy/receive", {"bundle": bundle, **fields}, format="json")


def test_a_deploy_without_a_production_target_is_a_409_saying_so(demo_plant, admin_client):
    response = admin_client.post("/api/system/deploy", {"dry_run": True}, format="json")
    assert response.status_code == 409
    assert "No production target is configured" in response.json()["detail"]


def test_production_down_is_a_503_and_nothing_is_recorded_but_the_failure(demo_plant, test_instance, admin_client):
    response = admin_client.post("/api/system/deploy", {"signature": SIGNATURE, "comment": "go"}, format="json")

    assert response.status_code == 503
    assert "is unreachable" in response.json()["detail"] and "Nothing was deployed" in response.json()["detail"]
    assert not ConfigVersion.objects.exists()
    assert not Signature.objects.filter(object_type="config.deploy").exists()
    assert AuditRecord.objects.filter(action="deploy.failed").count() == 1


def test_a_dry_run_with_production_down_is_a_503(demo_plant, test_instance, admin_client):
    response = admin_client.post("/api/system/deploy", {"dry_run": True}, format="json")
    assert response.status_code == 503


def test_a_deploy_needs_a_signature(demo_plant, test_instance, admin_client):
    response = admin_client.post("/api/system/deploy", {"comment": "go"}, format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("signature:")


def test_a_wrong_password_refuses_the_deploy_before_anything_is_sent(demo_plant, test_instance, admin_client):
    response = admin_client.post("/api/system/deploy", {"signature": {**SIGNATURE, "password": "nope"}},
                                 format="json")
    assert response.status_code == 403
    assert not AuditRecord.objects.filter(action="deploy.failed").exists()  # production was never asked


def test_only_production_receives(demo_plant, admin_client, exported):
    response = _receive(admin_client, exported, base_version=0)
    assert response.status_code == 409 and "not a production instance" in response.json()["detail"]


def test_production_answers_a_dry_run_with_its_version_and_the_diff(demo_plant, production, admin_client, exported):
    exported["sections"]["tags"][0]["unit"] = "bar"
    response = _receive(admin_client, exported, dry_run=True)
    assert response.status_code == 200
    assert response.json()["version"] == 0 and response.json()["detail"] == "tags: 1 changed"
    assert not ConfigVersion.objects.exists()


def test_production_applies_a_deploy_as_the_next_version(demo_plant, production, admin_client, exported):
    exported["sections"]["tags"][0]["unit"] = "bar"

    response = _receive(admin_client, exported, base_version=0, comment="new units", deployed_by="erin",
                        source="test-1", signature={"signer": "erin", "meaning": "Approved", "junk": 1})

    assert response.status_code == 200 and response.json()["version"] == 1
    version = ConfigVersion.objects.get(number=1)
    assert version.kind == "received" and version.deployed_by == "erin" and version.source == "test-1"
    assert version.comment == "new units" and version.changes == 1
    assert version.signature == {"signer": "erin", "meaning": "Approved"}
    assert Tag.objects.get(name=exported["sections"]["tags"][0]["name"]).unit == "bar"
    assert AuditRecord.objects.filter(action="deploy.receive", object_id="v1").exists()


def test_a_deploy_on_a_moved_base_is_a_409_with_the_diff_and_changes_nothing(demo_plant, production, admin_client,
                                                                             exported):
    assert _receive(admin_client, exported, base_version=0).status_code == 200  # version 1
    exported["sections"]["tags"][0]["unit"] = "bar"

    response = _receive(admin_client, exported, base_version=0)

    assert response.status_code == 409
    body = response.json()
    assert "Production is at version 1, this deploy was prepared against version 0" in body["detail"]
    assert body["version"] == 1 and body["sections"]["tags"]["changed"][0]["fields"]["unit"]["new"] == "bar"
    assert ConfigVersion.objects.count() == 1
    assert Tag.objects.get(name=exported["sections"]["tags"][0]["name"]).unit != "bar"


def test_a_bundle_with_a_bad_object_changes_nothing_and_makes_no_version(demo_plant, production, admin_client,
                                                                         exported):
    exported["sections"]["tags"][0]["unit"] = "bar"
    exported["sections"]["connections"][0]["port"] = 0

    response = _receive(admin_client, exported, base_version=0)

    assert response.status_code == 422 and "connections" in response.json()["detail"]
    assert not ConfigVersion.objects.exists()
    assert Tag.objects.get(name=exported["sections"]["tags"][0]["name"]).unit != "bar"


def test_production_takes_a_gzip_compressed_bundle(demo_plant, production, admin_user, exported):
    body = gzip.compress(json.dumps({"bundle": exported, "dry_run": True}).encode())
    response = client_for(admin_user).post("/api/system/deploy/receive", body,
                                           content_type="application/vnd.kiln.bundle+gzip")
    assert response.status_code == 200 and response.json()["detail"] == "no changes"


def test_a_gzip_bomb_is_refused(demo_plant, production, admin_user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20_000  # inflates to at most 2 MB
    body = gzip.compress(b'{"bundle": "' + b"a" * 5_000_000 + b'"}')
    response = client_for(admin_user).post("/api/system/deploy/receive", body,
                                           content_type="application/vnd.kiln.bundle+gzip")
    assert response.status_code == 400 and "too large" in response.json()["detail"]


def test_rollback_restores_an_earlier_version_as_a_new_one(demo_plant, production, admin_client, exported):
    name = exported["sections"]["tags"][0]["name"]
    original_unit = exported["sections"]["tags"][0]["unit"]
    assert _receive(admin_client, exported, base_version=0).json()["version"] == 1
    exported["sections"]["tags"][0]["unit"] = "bar"
    assert _receive(admin_client, exported, base_version=1).json()["version"] == 2

    response = admin_client.post("/api/system/deploy/rollback", {"version": 1, "signature": SIGNATURE,
                                                                 "comment": "bar was wrong"}, format="json")

    assert response.status_code == 200
    assert response.json()["version"] == 3 and response.json()["rolled_back_to"] == 1
    assert Tag.objects.get(name=name).unit == original_unit
    version = ConfigVersion.objects.get(number=3)
    assert version.kind == "rollback" and version.rolled_back_to == 1
    assert Signature.objects.filter(object_type="config.rollback", object_id="1").exists()
    versions = admin_client.get("/api/system/deploy/versions").json()
    assert versions["current"] == 3 and [v["number"] for v in versions["versions"]] == [3, 2, 1]


def test_a_rollback_with_a_wrong_password_changes_nothing(demo_plant, production, admin_client, exported):
    _receive(admin_client, exported, base_version=0)
    response = admin_client.post("/api/system/deploy/rollback",
                                 {"version": 1, "signature": {**SIGNATURE, "password": "nope"}}, format="json")
    assert response.status_code == 403
    assert ConfigVersion.objects.count() == 1


def test_a_rollback_to_an_unknown_version_is_a_404(demo_plant, production, admin_client):
    response = admin_client.post("/api/system/deploy/rollback", {"version": 7, "signature": SIGNATURE},
                                 format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("method,url", [("post", "/api/system/deploy"), ("post", "/api/system/deploy/receive"),
                                        ("post", "/api/system/deploy/rollback"),
                                        ("get", "/api/system/deploy/versions")])
def test_engineers_may_not_deploy(db, engineer, method, url):
    assert getattr(client_for(engineer), method)(url, {}, format="json").status_code == 403
