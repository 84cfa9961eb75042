"""Servers for tests of several apps: a free TCP port, a bounded wait, a real daphne serving scada.asgi.

Shared here (not in one app's tests package) so no app's tests import another app's tests.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=5.0, step=0.02):
    """predicate()'s first truthy answer within `timeout` seconds, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


@contextlib.contextmanager
def running_daphne(log_dir, *, env=None, procs=None, start_timeout=20):
    """A real daphne serving scada.asgi on the test database and this suite's Redis db; yields its ws:// URL.
    `env` adds environment variables (None removes one); the process is appended to `procs` when given (to kill
    it in a test)."""
    port = free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "KILN_TESTING": "1",
        "DJANGO_SETTINGS_MODULE": "scada.settings",
        "DB_POOL_MAX_SIZE": "4",  # pooled connections as in production (tests otherwise run without a pool)
        **(env or {}),
    }
    env = {key: value for key, value in env.items() if value is not None}
    log_path = Path(log_dir) / "daphne.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                             "scada.asgi:application"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if procs is not None:
        procs.append(proc)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log_path.read_text())
                time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class OwnRedis:
    """A redis-server on a free port with AOF on (as Kiln's docs ask), which a test may stop and start again.

    `appendonly=False`: a Redis without persistence, as a careless install has it (historian.health refuses it)."""

    def __init__(self, directory, *, appendonly: bool = True):
        self.port = free_port()
        self.directory = directory
        self.appendonly = appendonly
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.directory), "--appendonly", "yes" if self.appendonly else "no",
                                      "--save", ""],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        assert wait_for(lambda: self._pings(client), timeout=10), "redis-server did not start"

    @staticmethod
    def _pings(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def stop(self):
        self.proc.terminate()  # a clean shutdown: the AOF is flushed, as on a service stop
        self.proc.wait(10)
