"""Deploy Test→Production between two real Kiln servers (issue 15's evidence).

Production is a daphne subprocess with its own PostgreSQL database and its own Redis database (KILN_TEST_REDIS_URL's
db + 1, or db 14 when the suite has 15), migrated and loaded with the demo plant, reached over HTTP with an Admin
integration account's API key. The test instance is this process (the suite's database). The engineer changes a
tag and an alarm on test; the dry run shows exactly those; the deploy makes production version 1, visible through
production's own API at once (no restart); a deploy on a moved base is refused with the diff; a bundle with a bad
object changes nothing; a rollback restores version 1 as version 4. Between them a deployed alarm definition is
live in production's running web process (a manual tag's write raises it) without a restart, and a deployed
binding change moves the drivers configuration token production's poll loops re-plan on.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from importlib import import_module

import psycopg
import pytest
import redis
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.db import connection

from alarms.models import AlarmDefinition
from conftest import PASSWORD
from deploy.bundle import bundle_export
from drivers.choices import ScanPeriod
from drivers.models import TagBinding
from drivers.runtime import config_version as drivers_config_version
from tags.models import Tag
from tests.servers import REPO, running_daphne

pytestmark = pytest.mark.django_db(transaction=True)

SIGNATURE = {"password": PASSWORD, "meaning": "Approved", "reason": "promote tested configuration"}


def _redis_url_plus_one(url: str) -> str:
    base, _, db = url.rpartition("/")
    number = int(db or 0)
    # Redis has databases 0-15 and make test's suite uses 15: past the end, production takes the one below.
    return f"{base}/{number + 1 if number < 15 else number - 1}"


@pytest.fixture
def production(tmp_path):
    """A second Kiln: database <suite db>_prod, Redis db + 1, demo plant, an Admin integration key."""
    db = connection.settings_dict
    name = f"{db['NAME']}_prod"
    admin_dsn = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = _redis_url_plus_one(django_settings.REDIS_URL)
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                                         f"/{name}",
           "REDIS_URL": redis_url, "KILN_TESTING": "1", "DJANGO_SETTINGS_MODULE": "scada.settings",
           "KILN_INSTANCE_ROLE": "production", "KILN_INSTANCE_NAME": "prod-1", "KILN_RATE_LIMIT_ENABLED": "0"}
    manage = [sys.executable, str(REPO / "manage.py")]

    def run(*args):
        return subprocess.run([*manage, *args], cwd=REPO, env=env, check=True, capture_output=True, text=True,
                              timeout=300).stdout

    run("migrate", "--noinput", "-v", "0")
    run("demo_load", "--fresh-database")
    key = run("shell", "-c", (
        "from accounts.models import User; from accounts.services import api_key_create; "
        "from scada.roles import Role; "
        "u = User.objects.create(username='deploy-bot', role=Role.ADMIN); "
        "print(api_key_create(actor=None, user=u, name='deploy from test-1')[1])")).strip().splitlines()[-1]
    try:
        keys = ("DATABASE_URL", "REDIS_URL", "KILN_INSTANCE_ROLE", "KILN_INSTANCE_NAME", "KILN_RATE_LIMIT_ENABLED")
        with running_daphne(tmp_path, env={k: env[k] for k in keys}) as ws:
            yield {"url": ws.replace("ws://", "http://").removesuffix("/ws"), "key": key, "run": run}
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _post(production, path, body):
    request = urllib.request.Request(production["url"] + path, method="POST", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {production['key']}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the test's own server
        return json.loads(response.read())


def _active_alarm_keys(production, tag_name):
    answer = _get(production, f"/api/alarms?tag={tag_name}&active=true")
    return [a["key"] for a in (answer["results"] if isinstance(answer, dict) else answer)]


def _get(production, path):
    request = urllib.request.Request(production["url"] + path, headers={"Authorization": f"Bearer {production['key']}"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the test's own server
        return json.loads(response.read())


def test_deploy_dry_run_rollback_and_refusals_between_two_real_servers(production, settings, admin_client,
                                                                         tmp_path):
    from django.core.management import call_command

    # The built-in report definitions come from a data migration, which an earlier test's flush (transactional
    # tests) removes; production, freshly migrated, has them. Put them back so both start from the same plant.
    import_module("reports.migrations.0002_builtin_definitions").create(django_apps, None)
    call_command("demo_load", verbosity=0)  # the test instance: the same demo plant
    settings.KILN_INSTANCE_ROLE, settings.KILN_INSTANCE_NAME = "test", "test-1"
    settings.KILN_DEPLOY_TARGET_URL, settings.KILN_DEPLOY_TARGET_API_KEY = production["url"], production["key"]

    # The engineer's change on test: a tag's limit and an alarm's setpoint.
    tag = Tag.objects.filter(datatype="REAL", max_value__isnull=False).order_by("name").first()
    tag.max_value = tag.max_value + 50
    tag.save()
    alarm = AlarmDefinition.objects.filter(setpoint__isnull=False, tag__isnull=False).order_by("key").first()
    alarm.setpoint = alarm.setpoint - 1
    alarm.save()

    dry = admin_client.post("/api/system/deploy", {"dry_run": True}, format="json")
    assert dry.status_code == 200, dry.content
    assert dry.json()["version"] == 0 and dry.json()["changes"] == 2, dry.json()
    assert dry.json()["sections"]["tags"]["changed"] == [
        {"key": tag.name, "fields": {"max_value": {"old": tag.max_value - 50, "new": tag.max_value}}}]
    assert list(dry.json()["sections"]["alarm_definitions"]["changed"][0]["fields"]) == ["setpoint"]

    deployed = admin_client.post("/api/system/deploy", {"signature": SIGNATURE, "comment": "wider limit",
                                                        "base_version": 0}, format="json")
    assert deployed.status_code == 200, deployed.content
    assert deployed.json()["version"] == 1 and deployed.json()["applied"] is True

    # Production serves the new configuration at once, from its own database.
    assert _get(production, f"/api/tags/{tag.name}")["max_value"] == tag.max_value
    versions = _get(production, "/api/system/deploy/versions")
    assert versions["current"] == 1 and versions["versions"][0]["deployed_by"] == "ada"
    assert versions["versions"][0]["source"] == "test-1" and versions["versions"][0]["comment"] == "wider limit"
    sent = admin_client.get("/api/system/deploy/versions").json()["versions"]
    assert [(v["kind"], v["number"]) for v in sent] == [("sent", 1)]

    # Someone deploys again from a stale base: refused with the diff, production unchanged.
    tag.description = "changed after the deploy"
    tag.save()
    stale = admin_client.post("/api/system/deploy", {"signature": SIGNATURE, "base_version": 0}, format="json")
    assert stale.status_code == 409
    assert "Production is at version 1" in stale.json()["detail"]
    stale_change = stale.json()["sections"]["tags"]["changed"][0]
    assert stale_change["key"] == tag.name
    assert stale_change["fields"]["description"]["new"] == "changed after the deploy"
    assert _get(production, f"/api/tags/{tag.name}")["description"] != "changed after the deploy"

    # A good deploy on the right base is version 2; it also moves a binding to another scan class, and
    # production's running poll loops are told: the drivers configuration token they re-plan on moves.
    binding = TagBinding.objects.order_by("tag__name").first()
    binding.scan_period = ScanPeriod.S_5 if binding.scan_period != ScanPeriod.S_5 else ScanPeriod.S_2
    binding.save()
    production_redis = redis.Redis.from_url(_redis_url_plus_one(django_settings.REDIS_URL))
    token = drivers_config_version(production_redis)
    second = admin_client.post("/api/system/deploy", {"signature": SIGNATURE, "base_version": 1}, format="json")
    assert second.status_code == 200 and second.json()["version"] == 2
    assert drivers_config_version(production_redis) != token
    assert _get(production, f"/api/tags/{tag.name}")["description"] == "changed after the deploy"

    # Production's running web process uses a deployed alarm definition at once: a tag without a PLC binding is
    # recorded there through the one values path, whose alarm engine already holds the definitions it had.
    manual = Tag.objects.get(name="Lab_Viscosity")
    _post(production, f"/api/tags/{manual.name}/write", {"value": 60.0})
    assert _active_alarm_keys(production, manual.name) == []
    AlarmDefinition.objects.create(key="lab-viscosity-hi", name="Lab viscosity high", tag=manual, kind="HI",
                                   setpoint=50.0)
    third = admin_client.post("/api/system/deploy", {"signature": SIGNATURE, "base_version": 2}, format="json")
    assert third.status_code == 200 and third.json()["version"] == 3
    _post(production, f"/api/tags/{manual.name}/write", {"value": 61.0})
    assert _active_alarm_keys(production, manual.name) == ["lab-viscosity-hi"]

    # Production refuses a bundle with a bad object and changes nothing.
    bundle = bundle_export()
    bundle["sections"]["tags"][0]["deadband"] = -5
    request = urllib.request.Request(production["url"] + "/api/system/deploy/receive", method="POST",
                                     data=json.dumps({"bundle": bundle, "base_version": 3}).encode(),
                                     headers={"Authorization": f"Bearer {production['key']}",
                                              "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - the test's own server
    assert refused.value.code == 422
    assert _get(production, "/api/system/deploy/versions")["current"] == 3

    # Roll production back to version 1 (an Admin on production signs): a new version 4 with version 1's config.
    production["run"]("shell", "-c", (
        "from accounts.models import User; from scada.roles import Role; "
        "u = User(username='pat', role=Role.ADMIN); u.set_password('" + PASSWORD + "'); u.save()"))
    token = json.loads(urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - the test's own server
        production["url"] + "/api/auth/login", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": "pat", "password": PASSWORD}).encode()), timeout=30).read())["token"]
    rollback = urllib.request.Request(production["url"] + "/api/system/deploy/rollback", method="POST",
                                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                      data=json.dumps({"version": 1, "signature": SIGNATURE}).encode())
    with urllib.request.urlopen(rollback, timeout=60) as response:  # noqa: S310 - the test's own server
        answer = json.loads(response.read())
    assert answer["version"] == 4 and answer["rolled_back_to"] == 1
    assert _get(production, f"/api/tags/{tag.name}")["description"] != "changed after the deploy"
    assert _get(production, f"/api/tags/{tag.name}")["max_value"] == tag.max_value
