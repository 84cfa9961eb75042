"""The Sparkplug B host application's logic: births and aliases, data, sequence gaps, deaths, bad payloads."""

from drivers.sparkplug.host import MetricKey, SparkplugHost
from drivers.sparkplug.payload import DataType, Metric, Payload, encode_payload

G, N = "plant", "edge-1"


def msg(kind, seq, metrics, device=None, ts=1_795_000_000_000):
    topic = f"spBv1.0/{G}/{kind}/{N}" + (f"/{device}" if device else "")
    return topic, encode_payload(Payload(timestamp=ts, seq=seq, metrics=metrics))


def birth(host, bdseq=0):
    return host.handle(*msg("NBIRTH", 0, [
        Metric(name="bdSeq", datatype=DataType.INT64, value=bdseq),
        Metric(name="Temp", alias=1, datatype=DataType.DOUBLE, value=72.4),
        Metric(name="Running", alias=2, datatype=DataType.BOOLEAN, value=True)]))


def values(outcome):
    return {k.metric: (v, q, sub) for k, v, q, sub, _ in outcome.values}


def test_a_birth_declares_metrics_and_data_by_alias_updates_them_with_the_edge_time():
    host = SparkplugHost()
    assert values(birth(host)) == {"Temp": (72.4, "GOOD", None), "Running": (True, "GOOD", None)}
    temp = Metric(alias=1, datatype=DataType.DOUBLE, value=73.0, timestamp=1_795_000_001_500)
    out = host.handle(*msg("NDATA", 1, [temp]))
    ((key, value, quality, sub, ts),) = out.values
    assert (key, value, quality, ts) == (MetricKey(G, N, "", "Temp"), 73.0, "GOOD", 1_795_000_001.5)
    assert not out.rebirth and not out.errors


def test_device_metrics_are_keyed_by_device_and_a_device_death_turns_only_them_bad():
    host = SparkplugHost()
    birth(host)
    host.handle(*msg("DBIRTH", 1, [Metric(name="Level", alias=1, datatype=DataType.FLOAT, value=63.5)], device="tank"))
    out = host.handle(*msg("DDATA", 2, [Metric(alias=1, datatype=DataType.FLOAT, value=64.0)], device="tank"))
    assert out.values[0][0] == MetricKey(G, N, "tank", "Level") and out.values[0][1] == 64.0
    death = host.handle(*msg("DDEATH", 3, [], device="tank"))
    assert values(death) == {"Level": (64.0, "BAD", "comm_failure")}  # the last value kept; node metrics untouched


def test_a_node_death_turns_every_metric_bad_but_a_stale_death_from_an_older_session_is_ignored():
    host = SparkplugHost()
    birth(host, bdseq=5)
    stale = host.handle(*msg("NDEATH", None, [Metric(name="bdSeq", datatype=DataType.INT64, value=4)]))
    assert stale.values == []
    death = host.handle(*msg("NDEATH", None, [Metric(name="bdSeq", datatype=DataType.INT64, value=5)]))
    assert values(death) == {"Temp": (72.4, "BAD", "comm_failure"), "Running": (True, "BAD", "comm_failure")}
    late = host.handle(*msg("NDATA", 1, [Metric(alias=1, datatype=DataType.DOUBLE, value=80.0)]))
    assert late.values == [] and late.rebirth == [(G, N)]  # after death: nothing believed until a new birth


def test_a_sequence_gap_asks_for_a_rebirth_and_marks_the_node_bad_until_it_comes():
    host = SparkplugHost()
    birth(host)
    host.handle(*msg("NDATA", 1, [Metric(alias=1, datatype=DataType.DOUBLE, value=73.0)]))
    gap = host.handle(*msg("NDATA", 3, [Metric(alias=1, datatype=DataType.DOUBLE, value=74.0)]))
    assert gap.rebirth == [(G, N)] and "seq 3 where 2 was due" in gap.errors[0]
    assert values(gap)["Temp"] == (73.0, "BAD", "comm_failure")
    again = birth(host)
    assert values(again)["Temp"] == (72.4, "GOOD", None)


def test_the_sequence_wraps_after_255():
    host = SparkplugHost()
    birth(host)
    for seq in list(range(1, 256)) + [0, 1]:
        out = host.handle(*msg("NDATA", seq, [Metric(alias=2, datatype=DataType.BOOLEAN, value=seq % 2 == 0)]))
        assert not out.rebirth, seq


def test_an_unknown_alias_data_before_birth_and_a_malformed_payload_each_ask_for_a_rebirth():
    host = SparkplugHost()
    early = host.handle(*msg("NDATA", 1, [Metric(alias=1, datatype=DataType.DOUBLE, value=1.0)]))
    assert early.rebirth == [(G, N)] and "no birth" in early.errors[0]
    birth(host)
    unknown = host.handle(*msg("NDATA", 1, [Metric(alias=99, datatype=DataType.DOUBLE, value=1.0)]))
    assert unknown.rebirth == [(G, N)] and "unknown alias 99" in unknown.errors[0]
    birth(host)
    broken = host.handle(f"spBv1.0/{G}/NDATA/{N}", b"\x12\x05\x0a")
    assert broken.rebirth == [(G, N)] and "malformed payload" in broken.errors[0]
    assert values(broken)["Temp"] == (72.4, "BAD", "config_error")


def test_other_hosts_state_and_other_namespaces_are_not_edge_messages():
    host = SparkplugHost()
    assert host.handle("spBv1.0/STATE/other-host", b'{"online": true}').values == []
    assert host.handle("spAv1.0/plant/NDATA/x", b"").values == []


def test_a_historical_metric_is_a_past_value_not_the_present_one():
    host = SparkplugHost()
    birth(host)
    old = Metric(alias=1, datatype=DataType.DOUBLE, value=70.0, timestamp=1_794_999_000_000, is_historical=True)
    out = host.handle(*msg("NDATA", 1, [old]))
    assert out.values == [] and [(k.metric, v, ts) for k, v, ts in out.historical] == [("Temp", 70.0, 1_794_999_000.0)]
    assert host.nodes[(G, N)].metrics[("", "Temp")][0] == 72.4  # a death would still keep the present value
