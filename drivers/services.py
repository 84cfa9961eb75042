"""Driver services: build a connection's poll plan, run its poll loop, supervise loops, audit config edits.

The poll loop itself is drivers.poller.ConnectionPoller; this module ties it to the database (plans), Redis
(leases, drivers.runtime) and Celery (hand-over to a successor task at the end of a tenure).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from accounts.audit import audit_record
from drivers import runtime
from drivers.choices import INTEGER_TYPES, ConnectionState, Protocol
from drivers.codec import Codec
from drivers.models import Connection, MetricBinding, NodeBinding, TagBinding, TopicBinding
from drivers.outbox import ValueOutbox
from drivers.plan import ConnectionSpec, Point, build_groups
from drivers.recorder import BackgroundRecorder, recorder_enabled
from scada.redis import get_redis
from tags.choices import DataType as TagType
from tags.choices import Quality
from tags.values import Sample, tag_values_record

logger = logging.getLogger(__name__)

__all__ = ["binding_codec", "connection_spec", "connection_plan_load", "connection_poll_run", "drivers_supervise",
           "connection_tags_mark_unpolled", "connection_tag_ids", "config_change_audit", "POLL_TENURE_SECONDS",
           "VALUE_OUTBOX", "RECORDER"]

# A poll task hands over to a fresh task after this long (Celery time limits, deploys, memory hygiene); the
# successor inherits the lease, so no other worker can slip in between.
POLL_TENURE_SECONDS = 300
ARMED_TTL_SECONDS = 30


def binding_codec(binding: TagBinding, tag_datatype: str) -> Codec:
    return Codec(binding.data_type, string_length=binding.string_length, word_order=binding.word_order,
                 byte_order=binding.byte_order, scaling=binding.scaling,
                 integer_eu=tag_datatype == TagType.INT and (binding.scaling is not None
                                                             or binding.data_type not in INTEGER_TYPES))


def connection_spec(c: Connection) -> ConnectionSpec:
    return ConnectionSpec(id=c.pk, name=c.name, host=c.host, port=c.port, unit_id=c.unit_id, timeout=c.timeout,
                          retries=c.retries, backoff_cap=c.backoff_cap, merge_gap=c.merge_gap)


def connection_plan_load(connection_id: int):
    """(ConnectionSpec, scan groups) for an enabled connection with active bound tags, else None."""
    c = Connection.objects.filter(pk=connection_id, enabled=True, protocol=Protocol.MODBUS_TCP).first()
    if c is None:
        return None
    by_period: dict[int, list[Point]] = defaultdict(list)
    bindings = (TagBinding.objects.filter(connection=c, tag__is_active=True).select_related("tag")
                .order_by("table", "address"))
    for b in bindings:
        by_period[b.scan_period].append(Point(tag_id=b.tag_id, name=b.tag.name, table=b.table, address=b.address,
                                              codec=binding_codec(b, b.tag.datatype)))
    if not by_period:
        return None
    return connection_spec(c), build_groups(by_period, max_gap=c.merge_gap)


def _record(samples: list[Sample]) -> None:
    """The poll loop's sink: where every polled value goes (and from there, to settings.KILN_VALUE_CONSUMERS)."""
    tag_values_record(samples=samples)


def _audit_outbox_drop(*, tags: int, samples: int, first_ts: float, last_ts: float) -> None:
    audit_record(action="drivers.samples_dropped", object_type="drivers", object_id="outbox",
                 new_value={"samples": samples, "tags": tags, "first_ts": first_ts, "last_ts": last_ts},
                 reason="values held during a Redis outage exceeded KILN_DRIVERS_OUTBOX_SAMPLES; marked BAD data_lost")


# One per process (a prefork child runs one poll loop at a time): what a loop could not record outlives the loop
# and is replayed by the next one, or when this one ends (drivers.outbox).
VALUE_OUTBOX = ValueOutbox(_record, on_drop=_audit_outbox_drop)
# Modbus poll loops hand their batches to this process's recorder thread and keep their schedule (drivers.recorder).
RECORDER = BackgroundRecorder(VALUE_OUTBOX)


def connection_poll_run(*, connection_id: int, token: str | None = None, hostname: str | None = None,
                        tenure: float = POLL_TENURE_SECONDS, successor=None) -> str:
    """Run the poll loop of one connection for up to `tenure` seconds. Returns why it stopped.

    Takes the connection's lease (or inherits it via `token`); exits at once when another loop holds it.
    At the end of the tenure `successor(connection_id, token)` is called to enqueue the next task, which takes
    over the still-held lease; for every other reason the lease is released.
    """
    r = get_redis()
    r.delete(runtime.armed_key(connection_id))
    token = token or uuid.uuid4().hex
    rt = runtime.RedisRuntime(connection_id, token, hostname=hostname)
    if not rt.acquire():
        return "busy"
    reason = "stopped"
    deadline = time.monotonic() + tenure
    counters = _previous_counters(r, connection_id)
    try:
        protocol = Connection.objects.filter(pk=connection_id).values_list("protocol", flat=True).first()
        backend = driver_backend(protocol) if protocol else None
        if backend is None:
            reason = "disabled"
        else:
            # The backend owns the connection's socket or session for the whole tenure (drivers.backends).
            reason = backend.run(connection_id=connection_id, runtime=rt, until=deadline, counters=counters)
    finally:
        rt.close()
        try:
            # Record what the loop handed over (before a successor records newer values), then replay what the
            # outbox still holds (Redis is usually back when a loop ends after an outage); what cannot go yet stays
            # held for the next loop of this process.
            RECORDER.flush()
        except Exception:  # noqa: BLE001
            logger.exception("Connection %s: replaying held values failed", connection_id)
        if reason == "tenure" and successor is not None:
            try:
                successor(connection_id, token)
            except Exception:  # noqa: BLE001 - no successor: release, beat re-arms within seconds
                logger.exception("Connection %s: could not enqueue the next poll task", connection_id)
                rt.release()
        elif reason != "lease_lost":
            rt.release()
    if reason in ("disabled", "stopping"):
        connection_tags_mark_unpolled(connection_id=connection_id,
                                      state=ConnectionState.DISABLED if reason == "disabled"
                                      else ConnectionState.STOPPED)
    return reason


def driver_backend(protocol: str):
    from drivers.backends import driver_backend as lookup

    return lookup(protocol)


def runtime_poller(spec, groups, transport, rt, counters=None):
    from drivers.poller import ConnectionPoller

    return ConnectionPoller(spec, groups, sink=RECORDER if recorder_enabled() else VALUE_OUTBOX, transport=transport,
                            runtime=rt, counters=counters)


def _previous_counters(r, connection_id: int) -> dict:
    raw = r.hget(runtime.stats_key(connection_id), "json")
    return orjson.loads(raw) if raw else {}


def connection_tags_mark_unpolled(*, connection_id: int, state: str = ConnectionState.STOPPED,
                                  at: float | None = None) -> int:
    """No loop polls this connection: its tags go BAD comm_failure (last value and time kept), once.

    A frozen GOOD value is the one thing a SCADA must never show. `at`: stamp the BAD samples with this time
    instead of each tag's last one, so history shows where the gap was noticed (a loop that died). Returns how
    many tags were marked.
    """
    from tags.live import live_get_many

    r = get_redis()
    raw = r.hget(runtime.stats_key(connection_id), "json")
    stats = orjson.loads(raw) if raw else {}
    if stats.get("state") in (ConnectionState.STOPPED, ConnectionState.DISABLED) and stats.get("tags_bad") == stats.get(
            "tags"):
        return 0
    tag_ids = connection_tag_ids(connection_id)
    now = time.time()
    samples = []
    for tid, lv in live_get_many(tag_ids).items():
        ts = at if at is not None else (lv.ts if lv else now)
        samples.append(Sample(tid, lv.value if lv else None, Quality.BAD, "comm_failure", ts))
    if samples:
        tag_values_record(samples=samples)
    stats.update({"state": str(state), "tags": len(tag_ids), "tags_bad": len(tag_ids)})
    r.hset(runtime.stats_key(connection_id), mapping={"json": orjson.dumps(stats)})
    return len(samples)


def _loop_died(r, connection_id: int) -> bool:
    """The connection's last loop left its stats as running: it ended without releasing (a clean end, a warm
    shutdown or a disable rewrites the state; a hand-over keeps the lease held, so it never gets here)."""
    raw = r.hget(runtime.stats_key(connection_id), "json")
    state = orjson.loads(raw).get("state") if raw else None
    return state in (ConnectionState.CONNECTED, ConnectionState.CONNECTING, ConnectionState.BACKOFF)


def connection_tag_ids(connection_id: int) -> list[int]:
    """The active tags a connection feeds, whatever its protocol (Modbus addresses, OPC UA nodes, Sparkplug metrics)."""
    ids = list(TagBinding.objects.filter(connection_id=connection_id, tag__is_active=True)
               .values_list("tag_id", flat=True))
    ids += NodeBinding.objects.filter(connection_id=connection_id, tag__is_active=True).values_list("tag_id", flat=True)
    ids += MetricBinding.objects.filter(connection_id=connection_id, tag__is_active=True).values_list("tag_id",
                                                                                                      flat=True)
    ids += TopicBinding.objects.filter(connection_id=connection_id, tag__is_active=True).values_list("tag_id",
                                                                                                     flat=True)
    return ids


def drivers_supervise(*, enqueue) -> dict:
    """Arm a poll task for every enabled connection whose lease lapsed; mark unpolled connections' tags BAD.

    Run by beat every few seconds and once when a drivers worker starts. `enqueue(connection_id)` sends the task.
    """
    r = get_redis()
    # A Sparkplug connection runs with no bindings too: it discovers the metrics an engineer may then accept.
    conns = list(Connection.objects.filter(Q(bindings__isnull=False) | Q(nodes__isnull=False) | Q(topics__isnull=False)
                                           | Q(protocol=Protocol.SPARKPLUG)).distinct()
                 .values_list("pk", "enabled", "protocol"))
    holders = runtime.lease_holders([c[0] for c in conns], r)
    armed, marked = [], 0
    for cid, enabled, protocol in conns:
        if holders.get(cid):
            continue
        if not enabled or protocol not in settings.KILN_DRIVER_BACKENDS:
            marked += connection_tags_mark_unpolled(connection_id=cid, state=ConnectionState.DISABLED)
            continue
        if r.set(runtime.armed_key(cid), "1", nx=True, ex=ARMED_TTL_SECONDS):
            if _loop_died(r, cid):
                # Its loop vanished without a word (worker killed, host down): until another worker's loop takes
                # over, its tags must not look alive. BAD now, with the last value; the next loop's first cycle
                # makes them GOOD again, so history shows the gap as BAD quality, never as invented values.
                marked += connection_tags_mark_unpolled(connection_id=cid, state=ConnectionState.STOPPED,
                                                        at=time.time())
            enqueue(cid)
            armed.append(cid)
        elif r.ttl(runtime.armed_key(cid)) < ARMED_TTL_SECONDS - 10:
            # Armed a while ago and still no loop (no free drivers worker): its tags must not look alive.
            marked += connection_tags_mark_unpolled(connection_id=cid, state=ConnectionState.STOPPED)
    return {"armed": armed, "marked_bad": marked}


def config_change_audit(*, user, action: str, obj, changed: dict | None = None) -> None:
    """Audit a driver configuration change (Django admin) in the transaction of the change."""
    with transaction.atomic():
        audit_record(action=action, user=user, object_type=obj._meta.model_name, object_id=obj.pk,
                     new_value=changed, reason="Django admin")
