"""GET /api/system/drivers: Engineer and above; state and poll statistics per connection from Redis."""

import orjson
import pytest

from drivers.runtime import lease_key, stats_key
from scada.redis import get_redis
from scada.roles import Role

pytestmark = pytest.mark.django_db

URL = "/api/system/drivers"


def test_it_requires_a_token(api_client):
    assert api_client.get(URL).status_code == 401


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
def test_it_refuses_roles_below_engineer(client_as, role):
    r = client_as(role).get(URL)
    assert r.status_code == 403
    assert r.json() == {"detail": "Insufficient role for this operation: requires engineer or higher."}


def test_it_lists_connections_with_their_poll_statistics(engineer_client, make_connection, make_tag, bind):
    polled = make_connection(port=5020, name="line-plc")
    idle = make_connection(port=5021, name="spare-plc")
    off = make_connection(port=5022, name="old-plc", enabled=False)
    bind(make_tag("Level"), polled)
    r = get_redis()
    r.set(lease_key(polled.pk), "token")
    r.hset(stats_key(polled.pk), mapping={"json": orjson.dumps({
        "state": "connected", "worker": "celery@host:12", "last_poll": 1795000000.25, "poll_ms_p50": 3.1,
        "poll_ms_p99": 7.9, "jitter_ms_p99": 0.8, "cycles": 120, "overruns": 2, "errors": 1, "reconnects": 1,
        "writes": 3, "tags": 1, "tags_bad": 0, "values_per_s": 12.5, "last_error": "read holding 0+1: timeout",
        "last_error_at": 1794999990.0,
        "scan_classes": [{"period_ms": 100, "tags": 1, "reads": 1, "poll_ms_p50": 3.1, "poll_ms_p99": 7.9}]})})
    resp = engineer_client.get(URL)
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == 3
    rows = {row["name"]: row for row in body["results"]}
    line = rows["line-plc"]
    assert line["state"] == "connected" and line["last_poll"] == "2026-11-18T11:06:40.250Z"
    assert (line["poll_ms_p50"], line["poll_ms_p99"], line["overruns"], line["errors"], line["reconnects"]) == (
        3.1, 7.9, 2, 1, 1)
    assert (line["tags"], line["tags_bad"], line["values_per_s"]) == (1, 0, 12.5)
    assert rows["spare-plc"]["values_per_s"] == 0.0  # nobody polls it: no rate, whatever an old hash says
    assert line["scan_classes"][0]["reads"] == 1
    assert rows["spare-plc"]["state"] == "stopped" and rows["spare-plc"]["last_poll"] is None
    assert rows["old-plc"]["state"] == "disabled"
    assert off.pk in {row["id"] for row in body["results"]} and idle.pk in {row["id"] for row in body["results"]}


def test_it_rejects_a_bad_limit(engineer_client):
    r = engineer_client.get(URL + "?limit=0")
    assert r.status_code == 400 and "limit" in r.json()["detail"]
