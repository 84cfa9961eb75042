"""The OPC UA read path against a real asyncua server (drivers.opcua.sim): subscription → samples with the
server's time and status mapped to Kiln quality; refused nodes BAD; status codes and skewed clocks unit-tested."""

from datetime import UTC, datetime, timedelta

import pytest

from drivers.opcua.loop import OpcuaLoop
from drivers.opcua.quality import epoch_seconds, sample_time, status_quality
from drivers.opcua.session import NodePoint, OpcuaSpec
from drivers.opcua.sim import OpcuaSim, SimThread
from tests.servers import free_port, wait_for

VARIABLES = {
    "Line1.Temp": (20.0, "Double", True),
    "Line1.Speed": (0.0, "Float", True),
    "Line1.Running": (False, "Boolean", True),
    "Line1.Count": (0, "Int32", True),
    "Line1.Status": ("", "String", False),
}


@pytest.fixture(scope="module")
def sim():
    thread = SimThread(OpcuaSim(port=free_port(), variables=VARIABLES)).start()
    yield thread
    thread.close()


def spec_for(sim, **kw):
    kw.setdefault("timeout", 1.0)
    return OpcuaSpec(id=kw.pop("id", 1), name="sim", endpoint_url=sim.sim.endpoint, publishing_interval=20, **kw)


def points_for(sim, names, **kw):
    return [NodePoint(tag_id=i + 1, name=n, node_id=sim.sim.node_id(n), sampling_interval=kw.get("sampling", 10))
            for i, n in enumerate(names)]


@pytest.fixture
def run_loop(collector):
    loops = []

    def make(sim, names, *, points=None, **kw):
        loop = OpcuaLoop(spec_for(sim, **kw), points or points_for(sim, names), sink=collector, last_values=None)
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        loop.session.stop()


def step_until(loop, predicate, timeout=5.0):
    def check():
        loop.step()
        return predicate()
    return wait_for(check, timeout=timeout, step=0.02)


def test_status_codes_map_to_kiln_quality_keeping_the_sub_code():
    assert status_quality(0) == ("GOOD", None)
    assert status_quality(0x80050000) == ("BAD", "comm_failure")  # BadCommunicationError
    assert status_quality(0x808C0000) == ("BAD", "sensor_failure")  # BadSensorFailure
    assert status_quality(0x40900000) == ("UNCERTAIN", "stale")  # UncertainLastUsableValue
    assert status_quality(0x00960000) == ("GOOD", "manual")  # GoodLocalOverride
    # No Kiln word for it: the OPC UA name travels as the sub-status; low info bits do not change anything.
    assert status_quality(0x808D0000) == ("BAD", "BadOutOfService")
    assert status_quality(0x808D0400) == ("BAD", "BadOutOfService")
    assert status_quality(0x40A40000)[0] == "UNCERTAIN"


def test_server_time_is_used_when_sane_and_replaced_by_receive_time_when_skewed():
    now = datetime(2026, 12, 6, 1, 0, 0)
    epoch = now.replace(tzinfo=UTC).timestamp()
    # Source time first, then server time; naive datetimes are UTC (as asyncua gives them).
    assert epoch_seconds(now) == epoch == epoch_seconds(now.replace(tzinfo=UTC))
    assert sample_time(epoch - 2, epoch, epoch, 10) == (epoch - 2, False)
    assert sample_time(None, epoch - 1, epoch, 10) == (epoch - 1, False)
    assert sample_time(epoch + 300, epoch, epoch, 10) == (epoch, True)  # server clock ahead
    assert epoch_seconds(datetime(1601, 1, 1)) is None  # OPC UA's "no time"
    assert sample_time(-11644473600.0, None, epoch, 10) == (epoch, False)
    assert sample_time(None, None, epoch, 10) == (epoch, False)


def test_it_records_every_subscribed_node_with_the_server_time_in_one_batch_per_flush(sim, run_loop, collector):
    names = ["Line1.Temp", "Line1.Speed", "Line1.Running", "Line1.Count", "Line1.Status"]
    loop = run_loop(sim, names)
    assert step_until(loop, lambda: len(collector.latest()) == 5), collector.batches
    assert loop.state == "connected"
    stamped = datetime.now(UTC) - timedelta(seconds=3)
    sim.set("Line1.Temp", 72.5, source_time=stamped)
    sim.set("Line1.Speed", 1485.2)  # a Float: reported at float32 precision, as Modbus float32 registers are
    sim.set("Line1.Status", "FILLING")
    assert step_until(loop, lambda: collector.latest()[1].value == 72.5 and collector.latest()[5].value == "FILLING"
                      and collector.latest()[2].value == 1485.2)
    temp = collector.latest()[1]
    assert temp.quality == "GOOD" and temp.substatus is None
    assert abs(temp.ts - stamped.timestamp()) < 0.01  # the device's time, not Kiln's
    assert loop.stats()["monitored_items"] == 5 and loop.stats()["notifications"] >= 8
    assert loop.stats()["values_per_s"] > 0


def test_a_bad_status_from_the_server_makes_the_tag_bad_with_its_last_value_and_sub_code(sim, run_loop, collector):
    loop = run_loop(sim, ["Line1.Count"])
    sim.set("Line1.Count", 41)
    assert step_until(loop, lambda: 1 in collector.latest() and collector.latest()[1].value == 41)
    loop.last_values = lambda ids: {1: (41, 1000.0)}  # what the live table would hold
    sim.set("Line1.Count", None, status=0x808C0000)  # BadSensorFailure: the server sends no value with it
    assert step_until(loop, lambda: collector.latest()[1].quality == "BAD")
    bad = collector.latest()[1]
    assert (bad.value, bad.substatus, bad.ts) == (41, "sensor_failure", 1000.0)
    sim.set("Line1.Count", 42)
    assert step_until(loop, lambda: collector.latest()[1].quality == "GOOD" and collector.latest()[1].value == 42)
    assert 1 not in loop.bad


def test_a_node_the_server_does_not_have_is_bad_config_error_and_the_others_still_read(sim, run_loop, collector):
    points = [NodePoint(tag_id=1, name="ok", node_id=sim.sim.node_id("Line1.Temp"), sampling_interval=10),
              NodePoint(tag_id=2, name="typo", node_id=sim.sim.node_id("Line1.Tmep"), sampling_interval=10)]
    loop = run_loop(sim, [], points=points)
    assert step_until(loop, lambda: {1, 2} <= set(collector.latest()))
    assert collector.latest()[2].quality == "BAD" and collector.latest()[2].substatus == "config_error"
    assert collector.latest()[1].quality == "GOOD"
    assert "refused 1 of 2" in loop.last_error and "Line1.Tmep" in loop.last_error


@pytest.fixture(scope="module")
def secure_sim(tmp_path_factory):
    thread = SimThread(OpcuaSim(port=free_port(), variables=VARIABLES,
                                pki_dir=str(tmp_path_factory.mktemp("sim-pki")))).start()
    yield thread
    thread.close()


def test_an_encrypted_session_needs_the_server_certificate_trusted_by_an_engineer(secure_sim, run_loop, collector,
                                                                                  tmp_path):
    from drivers.opcua.pki import CLIENT_KEY, certificate_fingerprint

    presented = certificate_fingerprint(secure_sim.sim.certificate_der)
    untrusted = run_loop(secure_sim, ["Line1.Temp"], security="Basic256Sha256_SignAndEncrypt",
                         pki_dir=str(tmp_path))
    untrusted.step()
    # Not trusted on first use: no session, every tag BAD, and the error shows what the server presented.
    assert untrusted.state == "backoff" and collector.latest()[1].quality == "BAD"
    assert f"server certificate not trusted yet: it presents SHA-256 {presented}" in untrusted.last_error
    assert oct((tmp_path / CLIENT_KEY).stat().st_mode & 0o777) == "0o600"  # Kiln's own key, made on first use
    wrong = run_loop(secure_sim, ["Line1.Temp"], security="Basic256Sha256_Sign", pki_dir=str(tmp_path),
                     server_certificate_sha256="0" * 64)
    wrong.step()
    assert "server certificate changed" in wrong.last_error
    collector.batches.clear()
    trusted = run_loop(secure_sim, ["Line1.Temp"], security="Basic256Sha256_SignAndEncrypt", pki_dir=str(tmp_path),
                       server_certificate_sha256=presented)
    assert step_until(trusted, lambda: collector.latest().get(1) is not None and
                      collector.latest()[1].quality == "GOOD", timeout=10)
    assert trusted.state == "connected"
