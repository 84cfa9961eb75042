"""OPC UA failure paths end to end, with a real asyncua server and the worker's loop: server gone → every tag BAD
(last value and time kept, the gap visible to history) → reconnect; Redis gone → values held and replayed."""

import threading
import time
from datetime import UTC, datetime

import pytest

from drivers import services
from drivers.models import Connection, NodeBinding
from drivers.opcua.sim import OpcuaSim, SimThread
from drivers.selectors import connection_queryset, connection_status_rows
from historian.writer import historian_writer_run
from tags.live import live_get_many
from tests.servers import free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

VARIABLES = {"Line.Temp": (72.4, "Double", False), "Line.Count": (0, "Int32", False)}


@pytest.fixture
def sim():
    thread = SimThread(OpcuaSim(port=free_port(), variables=VARIABLES)).start()
    yield thread
    thread.close()


def ua_connection(sim, make_tag):
    conn = Connection(name="ua-sim", protocol="opcua", endpoint_url=sim.sim.endpoint, timeout=0.5,
                      publishing_interval=20, backoff_cap=1.0)
    conn.full_clean()
    conn.save()
    tags = {"Line.Temp": make_tag("Line_Temp"), "Line.Count": make_tag("Line_Count", datatype="INT")}
    for name, tag in tags.items():
        NodeBinding.objects.create(tag=tag, connection=conn, node_id=sim.sim.node_id(name), sampling_interval=10)
    return conn, tags


def test_a_server_that_goes_away_turns_every_tag_bad_with_its_last_value_then_it_reconnects(
        sim, make_tag, poll_loop, recorded_values):
    conn, tags = ua_connection(sim, make_tag)
    temp = tags["Line.Temp"].pk
    poll_loop(conn)
    assert wait_for(lambda: all(v is not None for v in live_get_many([t.pk for t in tags.values()]).values()),
                    timeout=10)
    before = live_get_many([temp])[temp]
    stopped = time.monotonic()
    sim.stop()
    assert wait_for(lambda: live_get_many([temp])[temp].quality == "BAD", timeout=10)
    took = time.monotonic() - stopped
    bad = live_get_many([temp])[temp]
    assert (bad.value, bad.substatus, bad.ts) == (72.4, "comm_failure", before.ts)  # last value and time kept
    assert took < 4.0, took  # within the keep-alive (timeout 0.5 s) plus a loaded machine's slack
    # History sees the gap: a BAD comm_failure sample for each tag, not a line joining GOOD values.
    history = [c for c in recorded_values["historian"].changes if c.tag_id == temp]
    assert [c.quality for c in history][-1] == "BAD" and history[-1].substatus == "comm_failure"
    assert wait_for(lambda: connection_status_rows(list(connection_queryset()))[0]["state"] == "backoff", timeout=3)
    sim.start()
    assert wait_for(lambda: live_get_many([temp])[temp].quality == "GOOD", timeout=15)
    assert wait_for(lambda: connection_status_rows(list(connection_queryset()))[0]["reconnects"] >= 1, timeout=3)
    row = connection_status_rows(list(connection_queryset()))[0]
    assert row["state"] == "connected" and row["tags_bad"] == 0 and row["errors"] >= 1
    # Nothing recorded twice: the value the server sends again on re-subscribing is a new GOOD sample, never a
    # second copy of the one recorded before the loss.
    good = [(c.ts, c.value) for c in recorded_values["historian"].changes if c.tag_id == temp and c.quality == "GOOD"]
    assert len(good) == len(set(good)) and len(good) >= 2


def _history(operator_client, tag, start, end):
    def iso(t):
        return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    assert historian_writer_run(budget_seconds=30).error is None
    r = operator_client.get(f"/api/tags/{tag.name}/history?start={iso(start)}&end={iso(end)}")
    assert r.status_code == 200, r.content
    return [(datetime.fromisoformat(p["ts"].replace("Z", "+00:00")).timestamp(), p) for p in r.json()["data"]]


def test_values_notified_while_redis_is_down_are_held_and_replayed_into_history(
        sim, make_tag, poll_loop, own_redis, operator_client):
    conn, tags = ua_connection(sim, make_tag)
    count = tags["Line.Count"]
    running = threading.Event()
    running.set()

    def counter():
        n = 0
        while running.is_set():
            n += 1
            sim.set("Line.Count", n)
            time.sleep(0.05)

    thread = threading.Thread(target=counter, daemon=True)
    thread.start()
    try:
        loop = poll_loop(conn)
        assert wait_for(lambda: live_get_many([count.pk]).get(count.pk), timeout=10)
        t0 = time.time()
        time.sleep(1.0)
        down_at = time.time()
        own_redis.stop()
        time.sleep(3.0)
        own_redis.start()
        up_at = time.time()
        time.sleep(2.0)
    finally:
        running.clear()
        thread.join(5)
    loop.stop()
    points = _history(operator_client, count, t0, up_at + 1.5)
    during = [t for t, p in points if p["quality"] == "GOOD" and down_at < t < up_at]
    assert len(during) > 20, (len(during), points)  # ~60 changes in the 3 s without Redis, kept in order
    good = [t for t, p in points if p["quality"] == "GOOD"]
    assert max(b - a for a, b in zip(good, good[1:], strict=False)) < 1.5
    assert services.VALUE_OUTBOX.stats()["values_held"] == 0


class FreezingProxy:
    """A TCP relay to the server that can freeze: sockets stay open but nothing passes (a hung server or a
    black-holed network), which only a keep-alive can notice."""

    def __init__(self, upstream_port: int):
        import socket

        self.upstream_port = upstream_port
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket

        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._relay, args=(a, b), daemon=True).start()

    def _relay(self, src, dst):
        import select

        while self.running:
            ready, _, _ = select.select([src], [], [], 0.05)
            if not ready or self.frozen.is_set():
                continue
            try:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def close(self):
        self.running = False
        self.listener.close()


def test_a_server_that_stops_answering_is_noticed_by_the_keep_alive_and_every_tag_goes_bad(
        sim, make_tag, poll_loop):
    proxy = FreezingProxy(sim.sim.port)
    try:
        conn = Connection(name="ua-frozen", protocol="opcua", endpoint_url=f"opc.tcp://127.0.0.1:{proxy.port}/kiln",
                          timeout=0.5, publishing_interval=20, backoff_cap=1.0)
        conn.full_clean()
        conn.save()
        tag = make_tag("Frozen_Temp")
        NodeBinding.objects.create(tag=tag, connection=conn, node_id=sim.sim.node_id("Line.Temp"),
                                   sampling_interval=10)
        poll_loop(conn)
        assert wait_for(lambda: (live_get_many([tag.pk])[tag.pk] or None) and
                        live_get_many([tag.pk])[tag.pk].quality == "GOOD", timeout=10)
        frozen_at = time.monotonic()
        proxy.frozen.set()  # the TCP connection stays up; the server just never answers again
        assert wait_for(lambda: live_get_many([tag.pk])[tag.pk].quality == "BAD", timeout=10)
        took = time.monotonic() - frozen_at
        bad = live_get_many([tag.pk])[tag.pk]
        assert bad.substatus == "comm_failure" and bad.value == 72.4
        assert took < 5.0, took  # keep-alive every 0.5 s, probe timeout 0.5 s, plus a loaded machine's slack
        proxy.frozen.clear()
        assert wait_for(lambda: live_get_many([tag.pk])[tag.pk].quality == "GOOD", timeout=15)
    finally:
        proxy.close()
