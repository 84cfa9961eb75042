"""Real Celery worker and beat processes for the drivers' end-to-end tests, on this test database and Redis db."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def worker_env() -> dict:
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
    return env


def start_worker(name):
    env = worker_env()
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


def start_beat(schedule_path) -> subprocess.Popen:
    """celery beat as production runs it (every CELERY_BEAT_SCHEDULE entry; only drivers-supervise matters here)."""
    celery = str(Path(sys.executable).with_name("celery"))
    return subprocess.Popen([celery, "-A", "scada", "beat", "--loglevel", "WARNING", "--schedule", str(schedule_path)],
                            cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
