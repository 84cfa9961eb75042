"""Driver backends: what differs per protocol, behind one small contract; everything else is shared.

`settings.KILN_DRIVER_BACKENDS` maps a Connection.protocol to a backend class (dotted path, instantiated once
per process, like KILN_WRITE_ROUTER). Shared by every protocol: the lease and tenure of a poll task
(drivers.services.connection_poll_run), the outbox that holds values while Redis is down (VALUE_OUTBOX), the
write hand-off through Redis with its audit-first rule (drivers.writes.DriverWriteRouter), the stats hash and
the status API. A backend provides:

- `run(*, connection_id, runtime, until, counters) -> str`: poll or subscribe until `until` (monotonic) or a
  reason to stop ("tenure", "lease_lost", "reconfigure" handled inside, "stopping", "disabled"); values go to
  drivers.services.VALUE_OUTBOX, writes queued on `runtime` are executed between batches and answered;
- `write_request(*, connection, tag, value) -> (request dict, (start window s, total wait s))`: the web side of
  a write: validate and encode `value` for the device, raising tags.writers.DriverWriteError when it cannot be
  written; the request is executed by the loop that owns the connection (its `execute_write`).
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from tags.writers import DriverWriteError

logger = logging.getLogger(__name__)

__all__ = ["driver_backend", "LoopBackend", "ModbusBackend"]

_backends: dict[str, object] = {}
_lock = threading.Lock()


def driver_backend(protocol: str):
    """The backend of a protocol (settings.KILN_DRIVER_BACKENDS), built once per process; None if unknown."""
    try:
        return _backends[protocol]
    except KeyError:
        pass
    path = settings.KILN_DRIVER_BACKENDS.get(protocol)
    if path is None:
        return None
    with _lock:
        if protocol not in _backends:
            _backends[protocol] = import_string(path)()
        return _backends[protocol]


@receiver(setting_changed, dispatch_uid="kiln-driver-backends-reset")
def _reset(*, setting: str, **kwargs) -> None:
    if setting == "KILN_DRIVER_BACKENDS":
        _backends.clear()


class LoopBackend:
    """`run` for a protocol whose loop is a drivers.connloop.ConnectionLoop: one link kept for the whole tenure.

    A configuration change ends the loop's run with "reconfigure"; the plan is loaded again and the link kept
    unless its address changed (`link_key`). A subclass provides `plan_load`, `link_key`, `link_open`,
    `link_close` and `loop_for`.
    """

    def run(self, *, connection_id: int, runtime, until: float, counters: dict) -> str:
        from django.db import close_old_connections

        link = link_for = loop = None
        try:
            while True:
                version = runtime.config_version()  # before the plan: a change while loading triggers a reload
                close_old_connections()
                loaded = self.plan_load(connection_id)
                if loaded is None:
                    return "disabled"
                spec, plan = loaded
                key = self.link_key(spec)
                if link is None or key != link_for:
                    if link is not None:
                        self.link_close(link)
                    link, link_for, loop = self.link_open(spec), key, None
                loop = self.loop_for(spec, plan, link=link, runtime=runtime, counters=counters, previous=loop)
                reason = loop.run(until=until, version=version, version_known=True)
                counters.clear()
                counters.update(loop.counters())
                if reason != "reconfigure":
                    return reason
                logger.info("Connection %s: configuration changed; re-planning", spec.name)
        finally:
            if link is not None:
                self.link_close(link)


class ModbusBackend(LoopBackend):
    """Modbus TCP: one socket per PLC, scan classes on a fixed grid, merged reads (drivers.poller)."""

    protocol = "modbus_tcp"

    def plan_load(self, connection_id: int):
        from drivers.services import connection_plan_load

        return connection_plan_load(connection_id)

    def link_key(self, spec):
        # One socket per PLC: a reconfigured loop keeps its socket unless the address changed.
        return (spec.host, spec.port, spec.unit_id, spec.timeout, spec.retries)

    def link_open(self, spec):
        from drivers.modbus import ModbusTransport

        return ModbusTransport(spec.host, spec.port, unit_id=spec.unit_id, timeout=spec.timeout, retries=spec.retries)

    def link_close(self, transport) -> None:
        transport.close()

    def loop_for(self, spec, groups, *, link, runtime, counters, previous):
        from drivers.services import runtime_poller

        return runtime_poller(spec, groups, link, runtime, counters)

    def write_request(self, *, connection, tag, value) -> tuple[dict, tuple[float, float]]:
        from drivers.choices import WRITABLE_TABLES, Table
        from drivers.codec import CodecError
        from drivers.models import TagBinding
        from drivers.services import binding_codec
        from drivers.writes import write_budget

        b = TagBinding.objects.filter(tag_id=tag.pk, connection=connection).first()
        if b is None:
            raise DriverWriteError("the tag is no longer bound to a PLC; nothing was written")
        if b.table not in WRITABLE_TABLES:
            raise DriverWriteError(f"{Table(b.table).label} {b.address} is read-only in the PLC; nothing was written")
        codec = binding_codec(b, tag.datatype)
        try:
            registers = codec.encode(value)
        except CodecError as exc:
            raise DriverWriteError(f"the PLC address cannot hold {value!r}: {exc}; nothing was written")
        request = {
            "tag_id": b.tag_id, "table": b.table, "address": b.address, "registers": registers,
            "data_type": b.data_type, "string_length": b.string_length, "word_order": b.word_order,
            "byte_order": b.byte_order, "integer_eu": codec.integer_eu,
            "scaling": [b.raw_low, b.raw_high, b.eu_low, b.eu_high] if b.scaling else None,
        }
        return request, write_budget(connection.timeout, connection.retries)
