"""Writes to Sparkplug B metrics: NCMD/DCMD at QoS 1, confirmed by the metric's next value, never retried.

The web side (`metric_write_value`, called by drivers.sparkplug.backend.SparkplugBackend.write_request) checks the
value against the metric's Sparkplug datatype, so a value the metric cannot hold is refused before anything goes
out. The loop side (`SparkplugWrites`, mixed into the connection's loop) publishes the command between flushes and
then keeps recording what arrives for up to the connection's timeout, watching the written metric:

- a value equal to the one written arrives → written, confirmed;
- the time runs out → written, unconfirmed, with the last value that did arrive (None if none): the edge node
  may have refused, clamped or not yet applied it. It is reported, never sent again;
- the broker did not acknowledge the PUBLISH in time → outcome unknown (it may have been delivered);
- broker down, or the edge node offline (no birth on record, or dead) → failed: nothing was sent.
The tag write service (tags.services) has audited the attempt before the router is called.
"""

from __future__ import annotations

import logging
import time

from drivers.choices import SparkplugType
from drivers.sparkplug.payload import Metric
from tags.choices import Quality

logger = logging.getLogger(__name__)

__all__ = ["SparkplugWrites", "metric_write_value"]

_INT_RANGE = {SparkplugType.INT8: (-128, 127), SparkplugType.INT16: (-32768, 32767),
              SparkplugType.INT32: (-(2 ** 31), 2 ** 31 - 1), SparkplugType.INT64: (-(2 ** 63), 2 ** 63 - 1),
              SparkplugType.UINT8: (0, 255), SparkplugType.UINT16: (0, 65535),
              SparkplugType.UINT32: (0, 2 ** 32 - 1), SparkplugType.UINT64: (0, 2 ** 64 - 1),
              SparkplugType.DATETIME: (0, 2 ** 64 - 1)}


def metric_write_value(value, datatype: int):
    """`value` (in the tag's type) as the Python value a metric of `datatype` carries; ValueError if it cannot."""
    if datatype == SparkplugType.BOOLEAN:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise ValueError(f"{value!r} is not a Boolean")
    if datatype in _INT_RANGE:
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{value!r} is not a whole number")
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not a number")
        low, high = _INT_RANGE[datatype]
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {SparkplugType(datatype).label} ({low}…{high})")
        return value
    if datatype in (SparkplugType.FLOAT, SparkplugType.DOUBLE):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        if datatype == SparkplugType.FLOAT and abs(value) > 3.4028234663852886e38:
            raise ValueError(f"{value} is outside Float")
        if datatype == SparkplugType.FLOAT:
            from drivers.codec import float32_shortest

            return float32_shortest(float(value))  # what the edge node will hold and send back
        return float(value)
    if datatype in (SparkplugType.STRING, SparkplugType.TEXT):
        return str(value)
    raise ValueError(f"Kiln does not write Sparkplug datatype {datatype}")


class SparkplugWrites:
    """The write half of drivers.sparkplug.loop.SparkplugLoop (see the module docstring): its `_write`."""

    def _write(self, req: dict) -> dict:
        """Publish the command, then wait for the metric's value (drivers.connloop.ConnectionLoop.execute_write
        has checked the request's deadline and that the broker is connected). Returns the reply."""
        client, node, device = self.client, req["node"], req["device"]
        where = f"{node}/{device}" if device else node
        state = client.host_app.nodes.get((self.spec.group_id, node))
        if state is None or not state.online or (device and device not in state.devices):
            return {"status": "failed", "detail": f"edge node {where} is offline (no birth on record); nothing was "
                                                  f"written"}
        tag_id, value = req["tag_id"], req["value"]
        self.flush()  # what arrived before the command is not its answer
        self.watch[tag_id] = []
        try:
            sent = client.publish_metric(node=node, device=device, timeout=self.spec.timeout, metric=Metric(
                name=req["metric"], datatype=req["datatype"], value=value, timestamp=int(time.time() * 1000)))
            if sent == "failed":
                return {"status": "failed", "detail": "the broker connection refused the command; nothing was "
                                                      "written"}
            self.writes += 1
            if sent == "unacked":
                self._note_error(f"write to {where}:{req['metric']}: no PUBACK within {self.spec.timeout:g} s")
                return {"status": "unknown", "detail": f"the broker did not acknowledge the command within "
                                                       f"{self.spec.timeout:g} s; it may have reached {where}"}
            return self._confirm(tag_id, value, where, req["metric"])
        finally:
            self.watch.pop(tag_id, None)

    def _confirm(self, tag_id: int, value, where: str, metric: str) -> dict:
        deadline = time.monotonic() + self.spec.timeout
        last = None
        while True:
            self.flush()
            for got, quality in self.watch.get(tag_id, ()):
                if quality == Quality.GOOD:
                    last = got
                    if got == value:
                        return {"status": "written", "confirmed": True, "readback": got}
            self.watch[tag_id] = []
            if time.monotonic() >= deadline:
                detail = (f"sent to {where}, but {metric} came back as {last!r}" if last is not None else
                          f"sent to {where}, but no new value of {metric} arrived within {self.spec.timeout:g} s")
                return {"status": "written", "confirmed": False, "readback": last, "detail": detail}
            time.sleep(0.005)
