"""The MQTT side of Kiln's Sparkplug B host application (paho-mqtt 2.2): subscribe, STATE, rebirth requests.

Used by the Sparkplug connection's loop (drivers.sparkplug.loop). `SparkplugClient` connects to the broker,
publishes its STATE (`spBv1.0/STATE/<host id>`, JSON `{"online": true, "timestamp": ...}`, retained, QoS 1)
with the offline message as its will, subscribes to `spBv1.0/<group>/#`, hands every message to
drivers.sparkplug.host.SparkplugHost in paho's network thread and queues the Outcome for the loop thread
(`take()`), and sends the rebirth requests the host asks for (NCMD "Node Control/Rebirth" = true, QoS 1, at most
one per node per REBIRTH_EVERY seconds so a broken edge node is not flooded).

Reconnects are paho's (its loop thread retries with back-off 0.5 s … `backoff_cap`). A lost session makes every
node unknown (SparkplugHost.lost_contact): what was published meanwhile is gone, so on the next CONNACK each
known node is asked for a rebirth, and `sessions` counts the CONNACKs so the loop can tell an outage happened.
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
                 password: str | None = None, tls: bool = False, keepalive: int = 10, backoff_cap: float = 30.0):
        self.group, self.host_id = group, host_id
        self.host_app = SparkplugHost()
        self.pending: deque = deque()
        self.connected = threading.Event()
        self.lost_reason: str | None = None
        self.sessions = 0  # CONNACKs so far (a reconnect makes it 2, 3...)
        self.rebirths_requested = 0
        self.handing_over = False  # set by the loop at a tenure hand-over: close() then keeps STATE online
        self._started = False
        self.disconnects = 0
        self._rebirth_sent: dict[tuple[str, str], float] = {}
        self._rebirth_due: dict[tuple[str, str], float] = {}
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
        self.client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(backoff_cap)))

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
        self.sessions += 1
        if self.sessions > 1:
            self._rebirth_sent.clear()  # a new session: every node is asked at once, whatever was asked before
            self._rebirth_due.clear()
            for group, node in self.host_app.lost_contact():
                self.request_rebirth(group, node)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        if self.connected.is_set():
            self.disconnects += 1
            self.host_app.lost_contact()  # data racing the reconnect must not pass for in-sequence
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
        if outcome.values or outcome.errors or outcome.historical:
            self.pending.append(outcome)

    # --- the loop thread --------------------------------------------------------------------------------------
    def connect(self, timeout: float = 5.0) -> None:
        """Connect and wait for the CONNACK; raises SparkplugError (and stops) when none came in `timeout`."""
        self.start()
        if not self.connected.wait(timeout):
            host, port, _ = self._address
            self.close()
            raise SparkplugError(self.lost_reason or f"no CONNACK from {host}:{port} within {timeout:g} s")

    def start(self) -> None:
        """Connect in the background: paho's thread keeps trying (and reconnecting) until close(). Idempotent."""
        if self._started:
            return
        self._started = True
        host, port, keepalive = self._address
        self.client.connect_async(host, port, keepalive)
        self.client.loop_start()

    def publish_metric(self, *, node: str, device: str, metric: Metric, timeout: float) -> str:
        """An NCMD (device "") or DCMD with one metric, QoS 1, never retried by Kiln: 'acked' when the broker
        acknowledged it (PUBACK) within `timeout`, 'unacked' when it may or may not have gone out, 'failed' when
        it certainly did not (not connected)."""
        kind = "DCMD" if device else "NCMD"
        topic = f"{NAMESPACE}/{self.group}/{kind}/{node}" + (f"/{device}" if device else "")
        payload = encode_payload(Payload(timestamp=int(time.time() * 1000), metrics=[metric]))
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return "failed"
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return "unacked"
        return "acked" if info.is_published() else "unacked"

    def node_online(self, group: str, node: str) -> bool:
        n = self.host_app.nodes.get((group, node))
        return bool(n and n.online)

    def take(self) -> list:
        out = []
        try:
            while True:
                out.append(self.pending.popleft())
        except IndexError:
            return out

    def request_rebirth(self, group: str, node: str, *, limit: bool = True) -> bool:
        """NCMD "Node Control/Rebirth" = true to one node, at most once per REBIRTH_EVERY s when `limit`.

        A request the limit holds back is remembered and sent when its time comes (rebirths_due), unless the
        node has birthed meanwhile: a node Kiln is unsure of is never left unsure just because it was asked once.
        """
        now = time.monotonic()
        if limit:
            since = now - self._rebirth_sent.get((group, node), -REBIRTH_EVERY)
            if since < REBIRTH_EVERY:
                self._rebirth_due.setdefault((group, node), now + REBIRTH_EVERY - since)
                return False
            self._rebirth_sent[(group, node)] = now
        self._rebirth_due.pop((group, node), None)
        self.rebirths_requested += 1
        payload = encode_payload(Payload(timestamp=int(time.time() * 1000), metrics=[
            Metric(name=REBIRTH_METRIC, datatype=DataType.BOOLEAN, value=True)]))
        self.client.publish(f"{NAMESPACE}/{group}/NCMD/{node}", payload, qos=1)
        return True

    def rebirths_due(self) -> None:
        """Send the rebirth requests the rate limit held back, now due (called by the loop between flushes)."""
        if not self._rebirth_due or not self.connected.is_set():
            return
        now = time.monotonic()
        for key, due in list(self._rebirth_due.items()):
            if due <= now:
                del self._rebirth_due[key]
                if not self.node_online(*key):
                    self.request_rebirth(*key)

    def close(self, *, say_offline: bool | None = None) -> None:
        """Say offline (retained, as the will would) and disconnect.

        `say_offline=False` at a hand-over to the successor loop: edge nodes that take Kiln for their primary host
        would otherwise go offline (and their tags BAD) for the moment between the two loops.
        """
        if say_offline is None:
            say_offline = not self.handing_over
        if say_offline and self.connected.is_set():
            self.client.publish(self.state_topic, self._state(False), qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
