"""End to end with a real Celery worker on the drivers queue: start-up arms the loop, values flow, faults show.

The worker is a subprocess pointed at this test database (test_<name>) and this Redis database, exactly as
`celery -A scada worker -Q drivers` runs in a plant.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from drivers.runtime import lease_key
from scada.redis import get_redis
from tags.live import live_get_many
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def start_worker(name):
    db = connection.settings_dict  # NAME is the test database here (test_<name>)
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.REDIS_URL,
        "KILN_TESTING": "1",
        "LOG_LEVEL": "INFO",
        # The connection pool as in production (tests otherwise run without it): prefork children must each
        # get working pooled connections, not copies of a parent's.
        "DB_POOL_MAX_SIZE": "3",
    })
    env.pop("DEBUG", None)
    celery = str(Path(sys.executable).with_name("celery"))
    return subprocess.Popen(
        [celery, "-A", "scada", "worker", "-Q", "drivers", "--concurrency", "2", "-n", f"{name}@%h",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop_worker(proc, timeout=15):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # warm shutdown, as scripts/procrun.py or systemd would do
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.stdout.read() if proc.stdout else ""


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
