"""Fixtures for the drivers app: real pymodbus servers as PLCs, tags bound to them, a sample collector, and a
Sparkplug B edge node with a Kiln connection to it on the local broker (Mosquitto, 127.0.0.1:1883)."""

import threading
import time
import uuid

import pytest

from drivers import services
from drivers.codec import Codec
from drivers.models import Connection, TagBinding
from drivers.plan import ConnectionSpec, Point, build_groups
from drivers.plcsim import PlcThread, SimulatedPlc
from scada.redis import reset_redis_client
from tags.models import Machine, Site, Tag
from tests.servers import OwnRedis, free_port, wait_for


@pytest.fixture
def plc_factory():
    """plc_factory(**SimulatedPlc kwargs) → a started PlcThread on a free port; all stopped after the test."""
    started = []

    def make(**kw):
        kw.setdefault("port", free_port())
        t = PlcThread(SimulatedPlc(**kw)).start()
        started.append(t)
        return t

    yield make
    for t in started:
        try:
            t.stop()
        except Exception:  # noqa: BLE001 - already stopped by the test
            pass


@pytest.fixture
def plc(plc_factory):
    return plc_factory()


class Collector:
    """Stands in for tag_values_record: keeps every batch, so tests can count calls and read samples."""

    def __init__(self):
        self.batches = []

    def __call__(self, samples):
        self.batches.append((time.monotonic(), list(samples)))

    def latest(self):
        out = {}
        for _, batch in self.batches:
            for s in batch:
                out[s.tag_id] = s
        return out

    def first_time(self, predicate):
        for t, batch in self.batches:
            if any(predicate(s) for s in batch):
                return t
        return None


@pytest.fixture
def collector():
    return Collector()


def make_spec(port, **kw):
    kw.setdefault("timeout", 0.3)
    return ConnectionSpec(id=kw.pop("id", 1), name=kw.pop("name", "test-plc"), host="127.0.0.1", port=port, **kw)


def make_groups(points_by_period, max_gap=0):
    """points_by_period: {period_ms: [(tag_id, table, address, data_type, extra codec kwargs)]}."""
    built = {}
    for period, rows in points_by_period.items():
        built[period] = [Point(tag_id=r[0], name=f"t{r[0]}", table=r[1], address=r[2],
                               codec=Codec(r[3], **(r[4] if len(r) > 4 else {}))) for r in rows]
    return build_groups(built, max_gap=max_gap)


@pytest.fixture
def site(db):
    return Site.objects.create(site_id="plant-d", name="Plant D")


@pytest.fixture
def machine(site):
    return Machine.objects.create(machine_id="line-1", name="Line 1", site=site)


@pytest.fixture
def make_tag(machine):
    def make(name, datatype="REAL", **kw):
        return Tag.objects.create(name=name, datatype=datatype, machine=kw.pop("machine", machine), **kw)

    return make


@pytest.fixture
def make_connection(db):
    def make(port=5020, **kw):
        kw.setdefault("name", f"plc-{port}")
        kw.setdefault("timeout", 0.3)
        return Connection.objects.create(host="127.0.0.1", port=port, **kw)

    return make


@pytest.fixture
def bind(db):
    def make(tag, connection, table="holding", address=0, data_type="uint16", **kw):
        b = TagBinding(tag=tag, connection=connection, table=table, address=address, data_type=data_type, **kw)
        b.full_clean()
        b.save()
        return b

    return make


class LoopThread:
    """connection_poll_run in a thread (as a drivers worker would run it), stopped through the shutdown key."""

    def __init__(self, connection_id, tenure=60.0):
        import uuid

        self.connection_id = connection_id
        self.hostname = f"test-{uuid.uuid4().hex[:8]}"
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(tenure,), daemon=True)

    def _run(self, tenure):
        from django.db import connections

        from drivers.services import connection_poll_run

        try:
            self.result = connection_poll_run(connection_id=self.connection_id, hostname=self.hostname,
                                              tenure=tenure)
        finally:
            connections.close_all()

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        from drivers.runtime import shutdown_key
        from scada.redis import get_redis

        get_redis().set(shutdown_key(self.hostname), "1", ex=30)
        self.thread.join(10)
        return self.result


@pytest.fixture
def poll_loop():
    """poll_loop(connection) → a running LoopThread; stopped after the test."""
    loops = []

    def start(connection, **kw):
        loop = LoopThread(connection.pk, **kw).start()
        loops.append(loop)
        return loop

    yield start
    for loop in loops:
        if loop.thread.is_alive():
            loop.stop()


@pytest.fixture
def own_redis(tmp_path, settings):
    from historian import writer

    # The writer caches partition coverage per process; another test may have dropped the partitions since.
    writer._coverage.ranges = []
    writer._coverage.loaded_at = 0.0
    server = OwnRedis(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    reset_redis_client()
    yield server
    if server.proc.poll() is None:
        server.stop()
    reset_redis_client()
    # The outbox is per process: nothing a test left held may leak into the next test.
    services.VALUE_OUTBOX.held.clear()
    services.VALUE_OUTBOX.held_samples = 0
    services.VALUE_OUTBOX.lost.clear()
    services.VALUE_OUTBOX.retry_at = 0.0


# --- Sparkplug B -------------------------------------------------------------------------------------------------

def _sparkplug_metrics():
    from drivers.sparkplug.payload import DataType

    return {"": {"Temp": (DataType.DOUBLE, 72.4, False), "TempSP": (DataType.FLOAT, 75.0, True)},
            "pump-01": {"Running": (DataType.BOOLEAN, False, True), "Count": (DataType.INT16, 0, True)}}


def live(tag):
    from tags.live import live_get_many

    return live_get_many([tag.pk])[tag.pk]


@pytest.fixture
def group():
    return f"kiln-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def edge(group):
    """A real edge node `edge-1` (not started: sp_plant starts it once Kiln listens) with node and device metrics."""
    from drivers.sparkplug.sim import EdgeNode

    node = EdgeNode(group=group, node="edge-1", metrics=_sparkplug_metrics())
    yield node
    try:
        node.client.disconnect()
        node.client.loop_stop()
    except Exception:  # noqa: BLE001 - crashed by the test already
        pass


@pytest.fixture
def sp_plant(group, edge, make_tag, poll_loop):
    """A Sparkplug connection to the local broker with four bound tags, its worker loop running, births in."""
    from drivers.models import MetricBinding
    from drivers.selectors import connection_status_rows
    from tags.live import live_get_many

    conn = Connection(name="sp-test", protocol="sparkplug", host="127.0.0.1", port=1883, group_id=group,
                      host_id=f"kiln-{group}", timeout=0.5, backoff_cap=1.0)
    conn.full_clean()
    conn.save()
    tags = {
        "Temp": make_tag("SP_Temp"),
        "TempSP": make_tag("SP_Temp_SP", is_writable=True, min_value=0, max_value=200),
        "Running": make_tag("SP_Running", datatype="BOOL", is_writable=True),
        "Count": make_tag("SP_Count", datatype="INT", is_writable=True),
    }
    metrics = _sparkplug_metrics()
    for name, tag in tags.items():
        device = "pump-01" if name in metrics["pump-01"] else ""
        b = MetricBinding(tag=tag, connection=conn, edge_node="edge-1", device=device, metric=name,
                          datatype=metrics[device][name][0])
        b.full_clean()
        b.save()
    loop = poll_loop(conn)
    assert wait_for(lambda: connection_status_rows([conn])[0]["state"] == "connected", timeout=10)
    edge.start()
    ids = [t.pk for t in tags.values()]
    assert wait_for(lambda: all(v is not None and v.quality == "GOOD" for v in live_get_many(ids).values()),
                    timeout=10)
    return conn, tags, loop
