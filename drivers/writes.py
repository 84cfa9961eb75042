"""The write router drivers registers with tags.writers: tag write → device → read-back, on the poll loop's socket.

Why through the poll loop and not a socket of the web process: many PLCs accept only a handful of TCP
connections and some only one, so Kiln keeps one socket per PLC, owned by the loop that holds the connection's
lease. The web process encodes the value, queues a request on the connection's Redis list, wakes the loop
(pub/sub), and waits on a reply list of its own. The loop executes writes between cycles: write (never
retried), read back, record the read-back through tag_values_record, reply.

Outcomes:
- reply `written` → DriverWriteOutcome(confirmed = read-back equals what was written, readback in EU);
- the PLC refused, the connection is down, nobody polls it, or the loop never took the request (removed from
  the queue again by the waiter, atomically) → DriverWriteError: nothing was written;
- the request was taken but no reply came, or the PLC's reply to the write was lost → DriverWriteError with
  unknown_outcome=True: it may have been applied, so it is never retried blindly.
"""

from __future__ import annotations

import threading
import time
import uuid
from functools import lru_cache

import orjson
import redis
from django.conf import settings

from drivers import runtime
from drivers.models import MetricBinding, NodeBinding, TagBinding, TopicBinding
from scada.redis import get_redis
from tags.writers import DriverWriteError, DriverWriteOutcome

__all__ = ["DriverWriteRouter", "ModbusWriteRouter", "write_budget"]


@lru_cache(maxsize=1)
def _blocking_redis() -> redis.Redis:
    # BLPOP may wait longer than the shared client's 5 s socket timeout; its own timeout bounds the wait.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=120, socket_connect_timeout=3)


def write_budget(timeout: float, retries: int) -> tuple[float, float]:
    """(seconds the loop may take to start the write, seconds the writer waits for the reply in total).

    Start: the loop is between cycles within one cycle's time; allow 2 s or two timeouts. Then one write (no
    retries) and one read-back (with the connection's retries) must fit, plus half a second of slack.
    """
    start = max(2.0, 2 * timeout)
    return start, start + timeout * (2 + retries) + 0.5


class DriverWriteRouter:
    """tags.writers.WriteRouter for tags a driver connection feeds, whatever its protocol.

    The connection's backend (drivers.backends, by Connection.protocol) checks and encodes the value; the
    hand-off to the loop that owns the connection, the per-tag lock and the outcome rules are the same for all.
    """

    def __init__(self):
        self._version: object = object()
        self._bound: frozenset[int] = frozenset()
        self._lock = threading.Lock()

    def _bound_ids(self) -> frozenset[int]:
        version = runtime.config_version()  # one Redis GET; the set itself is reloaded only when it moved
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._bound = frozenset(TagBinding.objects.values_list("tag_id", flat=True)) | frozenset(
                        NodeBinding.objects.values_list("tag_id", flat=True)) | frozenset(
                        MetricBinding.objects.values_list("tag_id", flat=True)) | frozenset(
                        TopicBinding.objects.values_list("tag_id", flat=True))  # read-only: refused, never faked
                    self._version = version
        return self._bound

    def handles(self, tag_id: int) -> bool:
        return tag_id in self._bound_ids()

    def write(self, *, tag, value) -> DriverWriteOutcome:
        from drivers.backends import driver_backend

        c = _connection_of(tag.pk)
        if c is None:
            raise DriverWriteError("the tag is no longer bound to a PLC; nothing was written")
        if not c.enabled:
            raise DriverWriteError(f"connection '{c.name}' is disabled; nothing was written")
        backend = driver_backend(c.protocol)
        if backend is None:
            raise DriverWriteError(f"connection '{c.name}' has no driver for {c.protocol}; nothing was written")
        request, (start_window, wait) = backend.write_request(connection=c, tag=tag, value=value)
        r = get_redis()
        # Two writes to one tag never overlap, whoever calls (the tag write service also locks, on its own key).
        lock = r.lock(f"kiln:drv:wlock:{tag.pk}", timeout=wait + 5, blocking_timeout=wait)
        if not lock.acquire():
            raise DriverWriteError("another write to this tag is still in progress; nothing was written")
        try:
            return self._round_trip(c, request, start_window, wait)
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass

    def _round_trip(self, c, request: dict, start_window: float, wait: float) -> DriverWriteOutcome:
        r = get_redis()
        if not r.exists(runtime.lease_key(c.pk)):
            raise DriverWriteError(f"connection '{c.name}' is not being polled (no drivers worker holds it); "
                                   f"nothing was written")
        request_id = uuid.uuid4().hex
        request = {**request, "id": request_id, "deadline": time.time() + start_window}
        raw = orjson.dumps(request)
        queue = runtime.write_queue_key(c.pk)
        pipe = r.pipeline(transaction=False)
        pipe.rpush(queue, raw)
        pipe.publish(runtime.wake_channel(c.pk), b"w")
        pipe.execute()
        got = _blocking_redis().blpop([runtime.write_reply_key(request_id)], timeout=wait)
        if got is None:
            # Still queued means the loop never took it: take it back (atomic) and nothing was written.
            if r.lrem(queue, 1, raw):
                raise DriverWriteError(f"the driver of connection '{c.name}' did not take the write in time; "
                                       f"nothing was written")
            raise DriverWriteError(f"no answer from the driver of connection '{c.name}'", unknown_outcome=True)
        reply = orjson.loads(got[1])
        status = reply.get("status")
        if status == "written":
            return DriverWriteOutcome(confirmed=bool(reply.get("confirmed")), readback=reply.get("readback"))
        raise DriverWriteError(reply.get("detail") or f"write failed ({status})", unknown_outcome=status == "unknown")


def _connection_of(tag_id: int):
    b = TagBinding.objects.select_related("connection").filter(tag_id=tag_id).first()
    if b is not None:
        return b.connection
    n = NodeBinding.objects.select_related("connection").filter(tag_id=tag_id).first()
    if n is not None:
        return n.connection
    m = MetricBinding.objects.select_related("connection").filter(tag_id=tag_id).first()
    if m is not None:
        return m.connection
    t = TopicBinding.objects.select_related("connection").filter(tag_id=tag_id).first()
    return t.connection if t is not None else None


# The name settings used before OPC UA; kept so an installation's own settings keep working.
ModbusWriteRouter = DriverWriteRouter
