"""The MQTT side of Kiln's Sparkplug B host application (paho-mqtt 2.2): subscribe, STATE, rebirth requests.

Code only so far (issue 17's MQTT part): no Connection type uses it yet. `SparkplugClient` connects to the
broker, publishes its STATE (`spBv1.0/STATE/<host id>`, JSON `{"online": true, "timestamp": ...}`, retained,
QoS 1) with the offline message as its will, subscribes to `spBv1.0/<group>/#`, hands every message to
drivers.sparkplug.host.SparkplugHost in paho's network thread and queues the Outcome for the loop thread
(`take()`), and sends the rebirth requests the host asks for (NCMD "Node Control/Rebirth" = true, QoS 1, at most
one per node per REBIRTH_EVERY seconds so a broken edge node is not flooded).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque

import paho.mqtt.client as mqtt

from drivers.sparkplug.host import NAMESPACE, REBIRTH_METRIC, SparkplugHost
from drivers.sparkplug.payload import DataType, Metric, Payload, encode_payload

logger = logging.getLogger(__name__)

__all__ = ["SparkplugClient", "SparkplugError", "REBIRTH_EVERY"]

REBIRTH_EVERY = 5.0


class SparkplugError(Exception):
    """The broker could not be reached or refused the client."""


class SparkplugClient:
    def __init__(self, *, host: str, port: int = 1883, group: str, host_id: str, username: str = "",
                 password: str | None = None, tls: bool = False, keepalive: int = 10):
        self.group, self.host_id = group, host_id
        self.host_app = SparkplugHost()
        self.pending: deque = deque()
        self.connected = threading.Event()
        self.lost_reason: str | None = None
        self._rebirth_sent: dict[tuple[str, str], float] = {}
        self._address = (host, port, keepalive)
        self.state_topic = f"{NAMESPACE}/STATE/{host_id}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"kiln-{host_id}", clean_session=True)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set()
        self._born = int(time.time() * 1000)
        self.client.will_set(self.state_topic, self._state(False), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def _state(self, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._born}).encode()

    # --- paho callbacks (its network thread) ------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self.lost_reason = f"the broker refused the connection: {reason_code}"
            return
        client.publish(self.state_topic, self._state(True), qos=1, retain=True)
        client.subscribe(f"{NAMESPACE}/{self.group}/#", qos=1)
        self.lost_reason = None
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.connected.clear()
        self.lost_reason = f"disconnected from the broker ({reason_code})"

    def _on_message(self, client, userdata, msg):
        try:
            outcome = self.host_app.handle(msg.topic, msg.payload)
        except Exception:  # noqa: BLE001 - one bad message must not stop the network thread
            logger.exception("Sparkplug: handling %s failed", msg.topic)
            return
        for group, node in outcome.rebirth:
            self.request_rebirth(group, node)
        if outcome.values or outcome.errors:
            self.pending.append(outcome)

    # --- the loop thread --------------------------------------------------------------------------------------
    def connect(self, timeout: float = 5.0) -> None:
        host, port, keepalive = self._address
        try:
            self.client.connect(host, port, keepalive)
        except OSError as exc:
            raise SparkplugError(f"cannot connect to {host}:{port}: {exc}") from exc
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.close()
            raise SparkplugError(self.lost_reason or f"no CONNACK from {host}:{port} within {timeout:g} s")

    def take(self) -> list:
        out = []
        try:
            while True:
                out.append(self.pending.popleft())
        except IndexError:
            return out

    def request_rebirth(self, group: str, node: str) -> bool:
        now = time.monotonic()
        if now - self._rebirth_sent.get((group, node), -REBIRTH_EVERY) < REBIRTH_EVERY:
            return False
        self._rebirth_sent[(group, node)] = now
        payload = encode_payload(Payload(timestamp=int(time.time() * 1000), metrics=[
            Metric(name=REBIRTH_METRIC, datatype=DataType.BOOLEAN, value=True)]))
        self.client.publish(f"{NAMESPACE}/{group}/NCMD/{node}", payload, qos=1)
        return True

    def close(self) -> None:
        """Say offline (retained, as the will would) and disconnect."""
        if self.connected.is_set():
            self.client.publish(self.state_topic, self._state(False), qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
