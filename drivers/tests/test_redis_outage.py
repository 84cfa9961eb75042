"""A Redis outage while a PLC is polled, end to end: a real redis-server of the test's own is stopped and
restarted under a running poll loop, the historian writer stores what arrived, and the history API shows it.

Real parts only: pymodbus PLC, the poll loop (drivers.services.connection_poll_run in a thread, as a drivers
worker runs it), Redis (live table, historian buffer, leases) on its own port, PostgreSQL. The shared Redis
is never touched.
"""

import threading
import time
from datetime import UTC, datetime

import pytest

from accounts.models import AuditRecord
from drivers import services
from drivers.choices import ScanPeriod
from historian.writer import historian_writer_run
from scada.redis import get_redis
from tags.live import live_get_many
from tests.servers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def polled_tag(plc, make_tag, make_connection, bind, poll_loop, own_redis):
    """A REAL tag read every 100 ms from a PLC register that changes every 20 ms; its loop and counter run."""
    tag = make_tag("Outage_Flow")
    conn = make_connection(port=plc.plc.port)
    bind(tag, conn, address=0, scan_period=ScanPeriod.MS_100)
    running = threading.Event()
    running.set()

    def count():
        n = 0
        while running.is_set():
            n = (n + 1) % 60000
            plc.call(plc.plc.set, "holding", 0, [n])
            time.sleep(0.02)

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    loop = poll_loop(conn)
    assert wait_for(lambda: live_get_many([tag.pk]).get(tag.pk), timeout=10), "the loop never recorded a value"
    yield tag, loop
    running.clear()
    counter.join(5)


def _outage(server, seconds):
    time.sleep(1.0)
    started = time.time()  # before the stop: a poll read just before it may be the first that cannot be recorded
    server.stop()
    time.sleep(seconds)
    server.start()
    return started, time.time()


def _history(operator_client, tag, start, end):
    def iso(t):
        return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    assert historian_writer_run(budget_seconds=30).error is None
    r = operator_client.get(f"/api/tags/{tag.name}/history?start={iso(start)}&end={iso(end)}")
    assert r.status_code == 200, r.content
    return [(datetime.fromisoformat(p["ts"].replace("Z", "+00:00")).timestamp(), p) for p in r.json()["data"]]


def test_it_replays_into_history_the_values_read_while_redis_was_down(polled_tag, own_redis, operator_client):
    tag, loop = polled_tag
    t0 = time.time()
    down_at, up_at = _outage(own_redis, 3.0)
    time.sleep(2.0)
    loop.stop()
    points = _history(operator_client, tag, t0, up_at + 1.5)
    good = [t for t, p in points if p["quality"] == "GOOD"]
    during = [t for t in good if down_at < t < up_at]
    assert len(during) > 10, (len(during), points)  # ~30 polls happened in the 3 s without Redis, all kept
    gaps = [b - a for a, b in zip(good, good[1:], strict=False)]
    # No hole: without the outbox the outage alone leaves ≥ 3 s; 1.5 s leaves room for a loaded test machine.
    assert max(gaps) < 1.5, max(gaps)
    assert services.VALUE_OUTBOX.stats()["values_held"] == 0


def test_it_marks_the_hole_bad_in_history_when_the_outbox_overflows(polled_tag, own_redis, operator_client,
                                                                     settings):
    settings.KILN_DRIVERS_OUTBOX_SAMPLES = 3  # only the last three polls of the outage survive
    tag, loop = polled_tag
    t0 = time.time()
    down_at, up_at = _outage(own_redis, 3.0)
    time.sleep(2.0)
    loop.stop()
    points = _history(operator_client, tag, t0, up_at + 1.5)
    lost = [(t, p) for t, p in points if p.get("substatus") == "data_lost"]
    assert len(lost) == 1, points
    lost_at = lost[0][0]
    assert lost[0][1]["quality"] == "BAD" and down_at - 0.2 <= lost_at < up_at
    before = [t for t, p in points if t < lost_at]
    after = [t for t, p in points if t > lost_at]
    # The hole reads GOOD … BAD data_lost … GOOD: the last value before it and the first after it are no longer
    # joined by a GOOD line, and its start is within one poll of the outage's start.
    assert before and lost_at - before[-1] < 0.5
    assert after and points[[t for t, _ in points].index(after[0])][1]["quality"] == "GOOD"
    record = AuditRecord.objects.get(action="drivers.samples_dropped")
    assert record.new_value["tags"] == 1 and record.new_value["samples"] >= 15


def test_it_keeps_polling_under_its_own_lease_after_redis_comes_back(polled_tag, own_redis):
    tag, loop = polled_tag
    _outage(own_redis, 3.0)  # the lease lapsed in the meantime (and the restart may not even have kept it)
    time.sleep(1.5)
    assert loop.thread.is_alive()  # the loop took its lease back instead of ending and leaving the tag unpolled
    assert get_redis().get(f"kiln:drv:lease:{loop.connection_id}") is not None
