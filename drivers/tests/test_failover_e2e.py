"""Failover of the drivers (issue 18 §2) with real processes: two drivers workers and beat on one connection.

Worker A polls the connection (it holds the Redis lease); worker B runs beside it with nothing to do. A is killed
with SIGKILL (no warm shutdown, as when its host dies). Its lease lapses (LEASE_TTL_MS), beat's supervisor
(every 5 s) marks the connection's tags BAD and arms a poll task, and B's loop takes over. The PLC counts up the
whole time, so history can be checked exactly: every GOOD value stored once and in order, the gap shown as one
BAD sample holding the last value (never an invented one).
"""

import os
import signal
import socket
import threading
import time
import uuid

import pytest

from drivers.runtime import LEASE_TTL_MS, lease_key, stats_key
from drivers.tests.workers import start_beat, start_worker, stop_worker
from historian.constants import BAD_CODE
from historian.models import HistorianSample
from historian.writer import historian_writer_run
from scada.redis import get_redis
from tags.live import live_get_many
from tests.servers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

SUPERVISE_SECONDS = 5.0  # CELERY_BEAT_SCHEDULE["drivers-supervise"]
TAKEOVER_LIMIT = LEASE_TTL_MS / 1000 + SUPERVISE_SECONDS + 3.0  # lapse + next supervision + a task's start


def _loop_worker(cid: int) -> str:
    """The worker whose loop last published the connection's stats (hostname:pid)."""
    import orjson

    raw = get_redis().hget(stats_key(cid), "json")
    return orjson.loads(raw).get("worker", "") if raw else ""


def test_a_killed_drivers_worker_s_connection_moves_to_the_other_with_every_sample_stored_once(
        plc, make_tag, make_connection, bind, tmp_path):
    conn = make_connection(port=plc.plc.port, timeout=0.3)
    tag = make_tag("Line_Count", "INT")
    bind(tag, conn, table="holding", address=0, data_type="uint16", scan_period=100)
    started_at = time.time()
    counting = threading.Event()

    def count():  # the PLC's counter: +1 every 200 ms, so each value lasts two poll cycles
        n = 0
        while not counting.is_set():
            n += 1
            plc.call(plc.plc.set, "holding", 0, [n])
            time.sleep(0.2)

    suffix = uuid.uuid4().hex[:6]
    a = start_worker(f"drv-a-{suffix}")
    b = beat = None
    logs = {}
    try:
        threading.Thread(target=count, daemon=True).start()
        assert wait_for(lambda: _loop_worker(conn.pk).startswith(f"drv-a-{suffix}"), timeout=60), "A never polled"
        b = start_worker(f"drv-b-{suffix}")
        beat = start_beat(tmp_path / "beat-schedule")
        from scada.health import celery_node_health

        assert wait_for(lambda: celery_node_health(f"drv-b-{suffix}@{socket.gethostname()}").ok, timeout=60)
        time.sleep(2.0)  # A keeps polling with B idle beside it: the lease keeps B out
        assert _loop_worker(conn.pk).startswith(f"drv-a-{suffix}")

        killed_at = time.time()
        os.killpg(a.pid, signal.SIGKILL)  # the parent and its prefork children: no goodbye, the lease lapses
        a.wait(10)
        back = wait_for(lambda: (lv := live_get_many([tag.pk])[tag.pk]).quality == "GOOD" and lv.ts > killed_at
                        and _loop_worker(conn.pk).startswith(f"drv-b-{suffix}") and time.time(),
                        timeout=TAKEOVER_LIMIT + 10, step=0.05)
        assert back, "B never took the connection over"
        took = back - killed_at
        assert took <= TAKEOVER_LIMIT, f"took over after {took:.1f} s (limit {TAKEOVER_LIMIT:.0f} s)"
        assert get_redis().get(lease_key(conn.pk)) is not None
        time.sleep(1.5)  # B records a while
    finally:
        counting.set()
        for name, proc in (("b", b), ("beat", beat)):
            if proc is not None:
                logs[name] = stop_worker(proc)
        if a.poll() is None:
            logs["a"] = stop_worker(a)
    while historian_writer_run(budget_seconds=10).samples:
        pass
    rows = list(HistorianSample.objects.filter(tag_id=tag.pk, ts__gte=_dt(started_at)).order_by("ts")
                .values_list("ts", "value", "quality"))
    good = [(ts.timestamp(), v) for ts, v, q in rows if q < BAD_CODE]
    bad = [(ts.timestamp(), v) for ts, v, q in rows if q >= BAD_CODE]
    values = [v for _, v in good]
    assert values == sorted(set(values)), "a GOOD value stored twice or out of order"  # nothing doubled
    before = [v for ts, v in good if ts < killed_at]
    after = [v for ts, v in good if ts > killed_at]
    assert before and after, logs
    # The gap is shown as BAD, holding the last value A stored, between A's last sample and B's first.
    gap = [(ts, v) for ts, v in bad if killed_at <= ts]
    assert gap and gap[0][1] == before[-1], (bad, before[-3:], after[:3])
    assert max(ts for ts, _ in good if ts < killed_at) < gap[0][0] < min(ts for ts, _ in good if ts > killed_at)
    # Only the values the PLC held while nobody polled are missing: about took / 0.2 s of them, never more.
    assert after[0] - before[-1] - 1 <= took / 0.2 + 3
    print(f"failover: A killed, B polled {took:.1f} s later (limit {TAKEOVER_LIMIT:.0f} s); {len(before)} values "
          f"before, {len(after)} after, {int(after[0] - before[-1] - 1)} PLC values unseen during the gap")


def _dt(ts: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC)
