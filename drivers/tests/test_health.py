"""manage.py health drivers: every enabled connection with bound tags is held by a live poll loop."""

import json

import pytest
from django.core.management import call_command

from drivers.runtime import LEASE_TTL_MS, lease_key
from drivers.selectors import drivers_health
from scada.redis import get_redis


def test_it_fails_while_a_connection_has_no_poll_loop_and_passes_once_one_holds_it(make_tag, make_connection, bind,
                                                                                    capsys):
    conn = make_connection(port=5101, name="plc-line-1")
    bind(make_tag("Flow"), conn)
    idle = make_connection(port=5102, name="plc-spare")  # nothing bound: nothing to poll, never a failure
    make_connection(port=5103, name="plc-off", enabled=False)
    assert idle.pk
    health = drivers_health()
    assert not health.ok and health.facts["not_polled"] == ["plc-line-1"]
    with pytest.raises(SystemExit) as exit_:
        call_command("health", "drivers")
    assert exit_.value.code == 1
    assert "drivers: FAIL - 1 of 1 connections not polled: plc-line-1" in capsys.readouterr().out

    get_redis().set(lease_key(conn.pk), "a-loop-token", px=LEASE_TTL_MS)  # what a running loop renews each second
    call_command("health", "drivers", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["healthy"] is True and out["checks"][0]["polled"] == 1


def test_it_names_an_unknown_check(db):
    with pytest.raises(SystemExit) as exit_:
        call_command("health", "drivrs")
    assert exit_.value.code == 2
