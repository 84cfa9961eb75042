"""Plain MQTT JSON topics as a drivers worker runs them, on the real local broker: a tag per topic (filter) and JSON
path; not JSON or nothing at the path → BAD config_error with the last value; read-only (a write is refused)."""

import json
import uuid

import paho.mqtt.client as mqtt
import pytest

from drivers.models import Connection, TopicBinding
from drivers.mqttjson.models import json_path_get
from drivers.selectors import connection_status_rows
from drivers.tests.conftest import live
from tags.writers import DriverWriteError, get_write_router
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def publisher():
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", 1883)
    client.loop_start()

    def send(topic, payload):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(topic, body, qos=1).wait_for_publish(5)

    yield send
    client.loop_stop()
    client.disconnect()


def test_values_come_from_the_json_path_of_each_bound_topic(make_tag, poll_loop, publisher):
    base = f"kiln-test/{uuid.uuid4().hex[:8]}"
    conn = Connection(name="mqtt-test", protocol="mqtt_json", host="127.0.0.1", port=1883, timeout=0.5,
                      backoff_cap=1.0)
    conn.full_clean()
    conn.save()
    temp, state = make_tag("MQ_Temp"), make_tag("MQ_State", datatype="STRING")
    for tag, topic, path in ((temp, f"{base}/line1/temp", "data.value"), (state, f"{base}/+/state", "")):
        b = TopicBinding(tag=tag, connection=conn, topic=topic, json_path=path)
        b.full_clean()
        b.save()
    poll_loop(conn)
    assert wait_for(lambda: connection_status_rows([conn])[0]["state"] == "connected", timeout=10)
    publisher(f"{base}/line1/temp", {"data": {"value": 72.5, "unit": "C"}})
    publisher(f"{base}/line7/state", "RUNNING")  # a filter with '+', the whole message is the value
    assert wait_for(lambda: (lv := live(temp)) is not None and lv.value == 72.5 and lv.quality == "GOOD")
    assert wait_for(lambda: (lv := live(state)) is not None and lv.value == "RUNNING")
    publisher(f"{base}/line1/temp", b"{not json")
    assert wait_for(lambda: live(temp).quality == "BAD")
    assert (live(temp).value, live(temp).substatus) == (72.5, "config_error")
    publisher(f"{base}/line1/temp", {"data": {"other": 1}})  # nothing at the path: still BAD
    publisher(f"{base}/line1/temp", {"data": {"value": 73}})
    assert wait_for(lambda: live(temp).quality == "GOOD" and live(temp).value == 73.0)
    with pytest.raises(DriverWriteError) as exc:
        get_write_router().write(tag=temp, value=1.0)
    assert "read-only" in str(exc.value)


def test_a_json_path_walks_keys_and_list_indexes():
    doc = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    assert json_path_get(doc, "a.b.1.c") == 2 and json_path_get(doc, "") == doc
    with pytest.raises(LookupError):
        json_path_get(doc, "a.b.5.c")
