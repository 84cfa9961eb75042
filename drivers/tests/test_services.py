"""Supervision and hand-over: one armed task per unpolled connection, BAD tags when nobody polls, leases."""

import pytest

from drivers import runtime
from drivers.services import connection_poll_run, drivers_supervise
from scada.redis import get_redis
from tags.live import LiveValue, live_get_many, live_set_many

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_arms_one_task_per_unpolled_connection_and_none_for_polled_ones(make_tag, make_connection, bind):
    polled, idle, empty = make_connection(port=1), make_connection(port=2), make_connection(port=3)
    bind(make_tag("A"), polled)
    bind(make_tag("B"), idle)
    get_redis().set(runtime.lease_key(polled.pk), "someone", px=5000)
    sent = []
    assert drivers_supervise(enqueue=sent.append)["armed"] == [idle.pk]
    assert drivers_supervise(enqueue=sent.append)["armed"] == []  # still armed: not sent twice
    assert sent == [idle.pk] and empty.pk not in sent


def test_it_marks_a_disabled_connections_tags_bad_keeping_their_values(make_tag, make_connection, bind):
    conn = make_connection(enabled=False)
    tag = make_tag("Level")
    bind(tag, conn)
    live_set_many({tag.pk: LiveValue(12.5, "GOOD", None, 1795000000.0)})
    drivers_supervise(enqueue=lambda cid: None)
    lv = live_get_many([tag.pk])[tag.pk]
    assert (lv.value, lv.quality, lv.substatus, lv.ts) == (12.5, "BAD", "comm_failure", 1795000000.0)


def test_it_returns_at_once_when_another_loop_holds_the_lease(make_tag, make_connection, bind):
    conn = make_connection()
    bind(make_tag("A"), conn)
    get_redis().set(runtime.lease_key(conn.pk), "other-worker", px=5000)
    assert connection_poll_run(connection_id=conn.pk, tenure=5) == "busy"
    assert get_redis().get(runtime.lease_key(conn.pk)) == b"other-worker"


def test_it_hands_its_lease_to_a_successor_at_the_end_of_its_tenure(plc, make_tag, make_connection, bind):
    conn = make_connection(port=plc.plc.port)
    bind(make_tag("A", "INT"), conn, scan_period=100)
    handed = []
    reason = connection_poll_run(connection_id=conn.pk, token="tok-1", tenure=0.5,
                                 successor=lambda cid, token: handed.append((cid, token)))
    assert reason == "tenure" and handed == [(conn.pk, "tok-1")]
    assert get_redis().get(runtime.lease_key(conn.pk)) == b"tok-1"  # still held, for the successor
    assert runtime.lease_acquire(conn.pk, "tok-1")  # the successor takes it over with the same token
    assert not runtime.lease_acquire(conn.pk, "tok-2")


def test_it_stops_and_releases_when_its_connection_is_disabled(plc, make_tag, make_connection, bind):
    conn = make_connection(port=plc.plc.port, enabled=False)
    bind(make_tag("A", "INT"), conn)
    assert connection_poll_run(connection_id=conn.pk, tenure=5) == "disabled"
    assert get_redis().get(runtime.lease_key(conn.pk)) is None


def test_it_keeps_counting_across_a_hand_over(plc, make_tag, make_connection, bind):
    import orjson

    conn = make_connection(port=plc.plc.port)
    bind(make_tag("A", "INT"), conn, scan_period=100)
    connection_poll_run(connection_id=conn.pk, token="tok", tenure=0.35, successor=lambda *a: None)
    first = orjson.loads(get_redis().hget(runtime.stats_key(conn.pk), "json"))["cycles"]
    connection_poll_run(connection_id=conn.pk, token="tok", tenure=0.35)
    total = orjson.loads(get_redis().hget(runtime.stats_key(conn.pk), "json"))["cycles"]
    assert first >= 3 and total >= first + 3
