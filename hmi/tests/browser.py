"""Helpers for the HMI browser tests: a real daphne serving the test database, and Debian's Chromium.

The server is a subprocess (`daphne scada.asgi:application`) on a free port, pointed at pytest-django's test
database and the suite's Redis, so pages, the REST API and /ws run exactly as in a plant. Data the tests
create must be committed (transactional_db) for it to see them.

Chromium is Debian's /usr/bin/chromium (scripts/ensure-browser.sh installs it); Playwright never downloads one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.servers import free_port

CHROMIUM = os.environ.get("KILN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = Path(settings.BASE_DIR) / "test-output"


class DaphneServer:
    """`daphne` on 127.0.0.1:<free port> against the current test database; stop() ends it."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = connection.settings_dict
        env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
        env.update({
            "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
                            f"{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "KILN_TESTING": "1",
            # No pooled connections: the test's flush between tests must not wait on an idle server connection.
            "DB_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        })
        if db.get("PASSWORD"):
            env["DATABASE_URL"] = env["DATABASE_URL"].replace("@", f":{db['PASSWORD']}@", 1)
        self.log = OUTPUT / "daphne" / f"daphne-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(self.port),
             "scada.asgi:application"],
            cwd=settings.BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + "/api/system/health", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not answer within 20 s; see {self.log}")

    def stop(self) -> None:
        if self._log.closed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def in_thread(fn, *args, **kwargs):
    """Run fn in a plain thread and return its result.

    Playwright's sync API keeps an asyncio loop registered on the test's thread; recording values there would
    hand the live push to that loop. A thread of its own makes the push happen now, as it does in a worker.
    """
    box: dict = {}

    def run():
        try:
            box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc
        finally:
            from django.db import connection as thread_connection

            thread_connection.close()

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _child_env() -> dict:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    auth = f"{db['USER'] or 'postgres'}:{db['PASSWORD']}" if db.get("PASSWORD") else (db["USER"] or "postgres")
    env.update({"DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
                "REDIS_URL": settings.REDIS_URL, "CELERY_BROKER_URL": settings.REDIS_URL, "KILN_TESTING": "1",
                "PYTHONUNBUFFERED": "1"})
    return env


class Plant:
    """The demo plant's simulated PLC (`manage.py plcsim`) and a drivers worker (`celery -Q drivers`), as
    `make run` starts them, as subprocesses against the test database and Redis."""

    def __init__(self, plc_port: int):
        log_dir = OUTPUT / "daphne"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.plc_log = open(log_dir / f"plcsim-{plc_port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.worker_log = open(log_dir / f"worker-{plc_port}.log", "w")  # noqa: SIM115
        bin_dir = Path(sys.executable).parent
        self.plc = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "plcsim", "--port", str(plc_port), "--seed", "1"],
            cwd=settings.BASE_DIR, env=_child_env(), stdout=self.plc_log, stderr=subprocess.STDOUT)
        self.worker = subprocess.Popen(  # noqa: S603
            [str(bin_dir / "celery"), "-A", "scada", "worker", "-Q", "drivers", "--concurrency", "2",
             "-n", f"hmitest-{plc_port}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "--loglevel", "INFO"],
            cwd=settings.BASE_DIR, env=_child_env(), stdout=self.worker_log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def stop_plc(self) -> None:
        """The PLC goes away (power, network): the driver must show its tags as BAD."""
        if self.plc.poll() is None:
            self.plc.terminate()
            self.plc.wait(timeout=10)

    def stop(self) -> None:
        self.stop_plc()
        if self.worker.poll() is None:
            self.worker.terminate()  # warm shutdown, as scripts/procrun.py would
            try:
                self.worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, 9)
                self.worker.wait(timeout=5)
        self.plc_log.close()
        self.worker_log.close()
