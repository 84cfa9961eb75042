"""End to end with a real Celery worker on the drivers queue: start-up arms the loop, values flow, faults show.

The worker is a subprocess pointed at this test database (test_<name>) and this Redis database, exactly as
`celery -A scada worker -Q drivers` runs in a plant.
"""

import time
import uuid
from pathlib import Path

import pytest

from drivers.runtime import lease_key
from drivers.tests.workers import start_worker, stop_worker
from scada.redis import get_redis
from tags.live import live_get_many
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def test_it_polls_through_a_real_worker_and_shows_faults_as_bad(plc, make_tag, make_connection, bind,
                                                                 engineer_client):
    plc.call(plc.plc.set, "holding", 0, [4321])
    conn = make_connection(port=plc.plc.port, timeout=0.3)
    tag = make_tag("Flow_Rate", "INT")
    bind(tag, conn, table="holding", address=0, data_type="uint16", scan_period=100)
    worker = start_worker(f"drvtest-{uuid.uuid4().hex[:6]}")
    log = ""
    try:
        # worker_ready → poll_supervise → poll_connection: no beat needed to get going.
        live = wait_for(lambda: (lv := live_get_many([tag.pk])[tag.pk]) and lv.quality == "GOOD" and lv, timeout=40)
        assert live and live.value == 4321
        assert get_redis().get(lease_key(conn.pk)) is not None

        plc.call(plc.plc.set, "holding", 0, [4322])
        assert wait_for(lambda: live_get_many([tag.pk])[tag.pk].value == 4322, timeout=2)

        status = wait_for(lambda: (rows := engineer_client.get("/api/system/drivers").json()["results"])
                          and rows[0]["cycles"] > 0 and rows[0], timeout=5)
        assert status["state"] == "connected" and status["worker"].startswith("drvtest-")
        assert status["poll_ms_p99"] is not None and status["tags"] == 1

        frozen_at = time.monotonic()
        plc.plc.freeze()
        bad = wait_for(lambda: (lv := live_get_many([tag.pk])[tag.pk]).quality == "BAD" and lv, timeout=5, step=0.005)
        took = time.monotonic() - frozen_at
        assert bad and bad.substatus == "comm_failure" and bad.value == 4322
        assert took <= 0.1 + 0.3 + 0.25, f"BAD after {took:.3f} s (period 0.1 s + timeout 0.3 s)"

        plc.plc.thaw()
        assert wait_for(lambda: live_get_many([tag.pk])[tag.pk].quality == "GOOD", timeout=5)
    finally:
        stopped_at = time.monotonic()
        log = stop_worker(worker)
    assert time.monotonic() - stopped_at < 10, "warm shutdown waited for the poll loop's tenure"
    assert get_redis().get(lease_key(conn.pk)) is None, log[-3000:]
    assert live_get_many([tag.pk])[tag.pk].quality == "BAD"  # nobody polls it now: no frozen GOOD value
    assert "Connection plc-" in log
