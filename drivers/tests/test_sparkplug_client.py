"""Kiln's Sparkplug B host application on the real local broker (Mosquitto, 127.0.0.1:1883): STATE, values from
an edge node's NBIRTH/NDATA, a rebirth asked on a sequence gap, BAD on the node's will (NDEATH)."""

import json
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest

from drivers.sparkplug.client import SparkplugClient
from drivers.sparkplug.payload import DataType, Metric, Payload, decode_payload, encode_payload
from tests.servers import wait_for

BROKER = ("127.0.0.1", 1883)


class Edge:
    """A minimal edge node on the broker: publishes births and data, records the commands it receives."""

    def __init__(self, group, node):
        self.group, self.node = group, node
        self.commands = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-{uuid.uuid4().hex[:8]}")
        death = encode_payload(Payload(metrics=[Metric(name="bdSeq", datatype=DataType.INT64, value=0)]))
        self.client.will_set(f"spBv1.0/{group}/NDEATH/{node}", death, qos=1)
        self.client.on_message = lambda c, u, m: self.commands.append(decode_payload(m.payload))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(*BROKER)
        self.client.loop_start()
        self.client.subscribe(f"spBv1.0/{group}/NCMD/{node}", qos=1)
        assert subscribed.wait(5)

    def send(self, kind, seq, metrics):
        self.client.publish(f"spBv1.0/{self.group}/{kind}/{self.node}",
                            encode_payload(Payload(timestamp=1_795_000_000_000, seq=seq, metrics=metrics)),
                            qos=1).wait_for_publish(5)

    def crash(self):
        """Drop the socket without DISCONNECT: the broker publishes the will (NDEATH)."""
        self.client.loop_stop()
        self.client.socket().close()


@pytest.fixture
def group():
    return f"kiln-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def host(group):
    client = SparkplugClient(host=BROKER[0], port=BROKER[1], group=group, host_id=f"kiln-{group}", keepalive=5)
    client.connect()
    yield client
    client.close()


def collected(host, store):
    for outcome in host.take():
        for key, value, quality, sub, _ in outcome.values:
            store[key.metric] = (value, quality, sub)
    return store


def test_it_publishes_its_state_and_reads_an_edge_nodes_birth_and_data(group, host):
    seen = {}
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    watcher.on_message = lambda c, u, m: seen.setdefault(m.topic, json.loads(m.payload))
    watcher.connect(*BROKER)
    watcher.loop_start()
    watcher.subscribe(host.state_topic, qos=1)
    assert wait_for(lambda: seen.get(host.state_topic), timeout=5)["online"] is True  # retained STATE
    watcher.loop_stop()
    edge = Edge(group, "edge-1")
    edge.send("NBIRTH", 0, [Metric(name="bdSeq", datatype=DataType.INT64, value=0),
                            Metric(name="Temp", alias=1, datatype=DataType.DOUBLE, value=72.4)])
    edge.send("NDATA", 1, [Metric(alias=1, datatype=DataType.DOUBLE, value=73.5)])
    store = {}
    assert wait_for(lambda: collected(host, store).get("Temp") == (73.5, "GOOD", None), timeout=5)
    edge.client.loop_stop()
    edge.client.disconnect()


def test_a_sequence_gap_sends_a_rebirth_request_and_the_nodes_will_turns_its_metrics_bad(group, host):
    edge = Edge(group, "edge-2")
    edge.send("NBIRTH", 0, [Metric(name="bdSeq", datatype=DataType.INT64, value=0),
                            Metric(name="Level", alias=1, datatype=DataType.FLOAT, value=63.5)])
    edge.send("NDATA", 5, [Metric(alias=1, datatype=DataType.FLOAT, value=64.0)])  # 1–4 lost
    assert wait_for(lambda: edge.commands, timeout=5)
    command = edge.commands[0].metrics[0]
    assert (command.name, command.datatype, command.value) == ("Node Control/Rebirth", DataType.BOOLEAN, True)
    store = {}
    assert wait_for(lambda: collected(host, store).get("Level") == (63.5, "BAD", "comm_failure"), timeout=5)
    edge.send("NBIRTH", 0, [Metric(name="bdSeq", datatype=DataType.INT64, value=0),
                            Metric(name="Level", alias=1, datatype=DataType.FLOAT, value=64.0)])
    assert wait_for(lambda: collected(host, store).get("Level") == (64.0, "GOOD", None), timeout=5)
    edge.crash()
    assert wait_for(lambda: collected(host, store).get("Level") == (64.0, "BAD", "comm_failure"), timeout=20)
