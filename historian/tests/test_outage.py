"""Store and forward for real: PostgreSQL cut off while values flow, and a writer killed mid-batch.

Both run the real path — tags.values.tag_values_record (or the buffer) → Redis stream → a separate writer
process → COPY into PostgreSQL — and then prove that every sample arrived exactly once and in order.
The outage is a TCP proxy between the writer process and PostgreSQL that the test cuts (open connections
reset, new ones refused) and restores; the shared cluster itself is never touched.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from historian.buffer import buffer_append_rows, buffer_status
from historian.constants import BUFFER_COUNT, WRITER_STATS
from scada.redis import get_redis
from tags.values import Sample, tag_values_record

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(240), pytest.mark.postgresql]


class PgProxy:
    """A TCP proxy to PostgreSQL that can be cut (every connection reset, new ones closed at once)."""

    def __init__(self, target):
        self.target = target
        self.up = True
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.pairs.append((client, server))
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        self.up = False
        for pair in self.pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
        self.pairs = []

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.listener.close()


def _start_writer(tmp_path, port, **env):
    s = connection.settings_dict
    stop = tmp_path / f"stop-{time.monotonic_ns()}"
    environment = {**os.environ, "DATABASE_URL": f"postgres://{s['USER']}@127.0.0.1:{port}/{s['NAME']}",
                   "REDIS_URL": django_settings.REDIS_URL, "KILN_TESTING": "1", "DB_CONN_MAX_AGE": "0",
                   **{k: str(v) for k, v in env.items()}}
    proc = subprocess.Popen([sys.executable, "-m", "historian.tests.writer_process", str(stop)], cwd=REPO,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, stop


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _writer_in_copy() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kiln-writer-test' "
                    "AND xact_start IS NOT NULL AND state = 'active' AND query LIKE 'COPY historian_sample%%'")
        return cur.fetchone()[0] > 0


def _stored(tag_id):
    with connection.cursor() as cur:
        cur.execute("SELECT value FROM historian_sample WHERE tag_id = %s ORDER BY ts", [tag_id])
        return [row[0] for row in cur.fetchall()]


def test_it_stores_every_sample_once_and_in_order_across_a_database_outage(hist_clean, make_tag, tmp_path):
    tags = [make_tag("Flow_A"), make_tag("Flow_B")]
    s = connection.settings_dict
    proxy = PgProxy((s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)))
    proc, stop = _start_writer(tmp_path, proxy.port)
    produced = {t.pk: [] for t in tags}
    counter = iter(range(1, 10**9))

    def produce(seconds):
        # The real values path, one poll cycle of both tags every few milliseconds.
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            n = float(next(counter))
            changes = tag_values_record(samples=[Sample(t.pk, n, ts=time.time()) for t in tags])
            assert len(changes) == len(tags)
            for t in tags:
                produced[t.pk].append(n)
            time.sleep(0.003)

    r = get_redis()
    try:
        produce(1.5)
        _wait(lambda: len(_stored(tags[0].pk)) > 0, 20, "the writer to commit before the outage")
        proxy.cut()
        produce(2.5)
        # PostgreSQL is out of reach: the stream holds what arrives, and the writer says why it is not writing.
        _wait(lambda: (r.hget(WRITER_STATS, "last_error") or b"") != b"", 10, "the writer to notice the outage")
        backlog = buffer_status()["buffered_samples"]
        assert backlog > 200, backlog
        proxy.restore()
        produce(1.5)
        stop.touch()
        assert proc.wait(timeout=60) == 0, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proxy.close()
    assert int(r.get(BUFFER_COUNT)) == 0
    for t in tags:
        assert _stored(t.pk) == produced[t.pk]  # every value, once, in the order it was recorded
    assert len(produced[tags[0].pk]) > 500


def test_it_stores_every_sample_once_when_the_writer_is_killed_mid_batch(hist_clean, make_tag, tmp_path):
    tag = make_tag("Killed_Writer")
    base = time.time() - 600
    total = 0
    for i in range(80):
        values = [float(total + j) for j in range(2500)]
        buffer_append_rows([base + (total + j) / 1000 for j in range(2500)], [tag.pk] * 2500, values, [0] * 2500)
        total += 2500
    s = connection.settings_dict
    port = int(s["PORT"] or 5432)
    kills = 0
    for _ in range(20):
        proc, stop = _start_writer(tmp_path, port, KILN_HISTORIAN_WRITER_BATCH=15000, PGAPPNAME="kiln-writer-test")
        # Kill it while its transaction is open and its COPY is running: mid-batch by construction.
        _wait(lambda: _writer_in_copy() or proc.poll() is not None, 60, "a writer inside COPY")
        proc.send_signal(signal.SIGKILL)  # no cleanup: the server rolls the open transaction back
        proc.wait(timeout=10)
        kills += 1
        if kills == 3 or buffer_status()["buffered_samples"] == 0:
            break
    assert kills == 3
    assert buffer_status()["buffered_samples"] > 0  # the kills left work behind
    proc, stop = _start_writer(tmp_path, port)
    stop.touch()
    assert proc.wait(timeout=120) == 0, proc.stdout.read()
    assert _stored(tag.pk) == [float(i) for i in range(total)]
    assert int(get_redis().get(BUFFER_COUNT)) == 0
