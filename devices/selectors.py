"""Device reads for seed 004: sites, device instances (Machines), their member tags with live values, status.

Costs stay flat: a device list is two SQL queries and one HMGET whatever the number of devices; a device's
detail is two queries (the machine, its tags) and one HMGET.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db.models import Q

from scada.api.renderers import iso_utc
from scada.errors import NotFound
from scada.roles import Role
from tags.choices import MachineStatus, Quality
from tags.expressions import ExpressionError
from tags.expressions import compile as compile_expression
from tags.live import LiveValue, live_get_many
from tags.models import Machine, Site, Tag

logger = logging.getLogger(__name__)

__all__ = [
    "STATUS_MEMBERS",
    "site_get",
    "device_get",
    "device_list",
    "device_detail",
    "device_tags",
    "device_tag_get",
    "device_tag_item",
    "device_status",
    "member_name",
    "tag_live_context",
]

# The members whose live values decide a device's status when its type has no status expression.
STATUS_MEMBERS = ("Running", "Faulted")


def member_name(tag: Tag) -> str:
    """The name a tag goes by in the device API: its member name, or its full name on a machine built by hand."""
    return tag.member or tag.name


def site_get(*, site_id: str) -> Site:
    site = Site.objects.filter(site_id=site_id).first()
    if site is None:
        raise NotFound(f"Site '{site_id}' not found")
    return site


def device_get(*, site_id: str, device_id: str) -> Machine:
    """The device `device_id` at site `site_id` (one query); 404 naming whichever of the two is missing."""
    machine = (Machine.objects.select_related("site", "device_type")
               .filter(site__site_id=site_id, machine_id=device_id).first())
    if machine is None:
        site_get(site_id=site_id)  # a second query only on a miss, to say which of the two is unknown
        raise NotFound(f"Device '{device_id}' not found at site '{site_id}'")
    return machine


def _status_expression(machine: Machine):
    text = (machine.device_type.status_expression or "").strip() if machine.device_type_id else ""
    if not text:
        return None
    try:
        return compile_expression(text, namespaces={"tags"})
    except ExpressionError as exc:
        logger.warning("Status expression of %s does not compile: %s", machine.device_type, exc)
        return None


def tag_live_context(tags: Iterable[Tag], live: dict[int, LiveValue | None]) -> dict[str, object]:
    """{member: value} for an expression's `tags` namespace; tags without a value or of BAD quality left out.

    A value the PLC link has lost (BAD) must never satisfy an interlock or colour a status, so it is absent and
    any expression that reads it reports why instead of using a stale number.
    """
    values = {}
    for tag in tags:
        lv = live.get(tag.pk)
        if lv is not None and lv.value is not None and lv.quality != Quality.BAD:
            values[member_name(tag)] = lv.value
    return values


def device_status(machine: Machine, values: dict[str, object]) -> str:
    """running / stopped / faulted from the live values of the device's members, else the stored status.

    A type's `status_expression` decides when set (its result must be one of the statuses); otherwise Faulted
    wins over Running, and Running false means stopped.
    """
    expr = _status_expression(machine)
    if expr is not None:
        try:
            result = expr.evaluate({"tags": values})
        except ExpressionError:
            return MachineStatus.UNKNOWN.value
        return result if result in MachineStatus.values else MachineStatus.UNKNOWN.value
    if values.get("Faulted") is True:
        return MachineStatus.FAULTED.value
    running = values.get("Running")
    if running is True:
        return MachineStatus.RUNNING.value
    if running is False:
        return MachineStatus.STOPPED.value
    return machine.status


def _summary(machine: Machine, status: str) -> dict:
    dt = machine.device_type
    return {
        "id": machine.machine_id,
        "name": machine.name or machine.machine_id,
        "typeId": dt.type_id if dt else None,
        "typeVersion": dt.version if dt else None,
        "location": machine.location,
        "processId": machine.process_id,
        "status": status,
    }


def device_list(*, site: Site) -> list[dict]:
    """Seed 004 device summaries of a site, in id order: one query for machines, one for status tags, one HMGET."""
    machines = list(Machine.objects.select_related("device_type").filter(site=site).order_by("machine_id"))
    wanted = set(STATUS_MEMBERS)
    for m in machines:
        expr = _status_expression(m)
        if expr is not None:
            wanted |= expr.names("tags")
    by_machine: dict[int, list[Tag]] = {m.pk: [] for m in machines}
    if machines:
        tags = list(Tag.objects.filter(machine__in=machines)
                    .filter(Q(member__in=wanted) | Q(member="", name__in=wanted)).only("id", "machine_id", "member",
                                                                                       "name"))
        for t in tags:
            by_machine[t.machine_id].append(t)
        live = live_get_many([t.pk for t in tags])
    else:
        live = {}
    return [_summary(m, device_status(m, tag_live_context(by_machine[m.pk], live))) for m in machines]


def _machine_tags(machine: Machine) -> list[Tag]:
    return list(Tag.objects.filter(machine=machine).order_by("id"))


def device_commands(machine: Machine) -> list[dict]:
    """The commands a client may send this device, from its type: id, name, description, minimum role,
    parameters (name → type, limits, required, unit) and the preconditions that must hold, in id order."""
    dt = machine.device_type
    if dt is None:
        return []
    return [{"id": c.command_id, "name": c.name or c.command_id, "description": c.description,
             "minRole": Role(c.min_role).label, "parameters": c.parameters or {},
             "preconditions": list(c.preconditions or [])}
            for c in dt.commands.order_by("command_id")]


def device_detail(*, machine: Machine, active_alarms: list[dict]) -> dict:
    """Seed 004 device detail: summary, `tags` by member name (value, unit when set, timestamp), active alarms,
    and (the seed's "configuration") the commands of its type, so a client can discover what it may send."""
    tags = _machine_tags(machine)
    live = live_get_many([t.pk for t in tags])
    tag_map = {}
    for t in tags:
        lv = live.get(t.pk)
        entry = {"value": lv.value if lv else None}
        if t.unit:
            entry["unit"] = t.unit
        entry["timestamp"] = iso_utc(lv.timestamp) if lv else None
        tag_map[member_name(t)] = entry
    body = _summary(machine, device_status(machine, tag_live_context(tags, live)))
    body["tags"] = tag_map
    body["activeAlarms"] = active_alarms
    body["commands"] = device_commands(machine)
    return body


def device_tag_item(tag: Tag, lv: LiveValue | None) -> dict:
    """Seed 004 tag read: name, value, dataType, unit, timestamp, quality (the seed spells the last two lower)."""
    return {
        "name": member_name(tag),
        "value": lv.value if lv else None,
        "dataType": tag.datatype.lower(),
        "unit": tag.unit,
        "timestamp": iso_utc(lv.timestamp) if lv else None,
        "quality": lv.quality.lower() if lv and lv.quality else None,
    }


def device_tags(*, machine: Machine) -> list[dict]:
    """Every tag of the device with its current value (one query, one HMGET)."""
    tags = _machine_tags(machine)
    live = live_get_many([t.pk for t in tags])
    return [device_tag_item(t, live.get(t.pk)) for t in tags]


def device_tag_get(*, machine: Machine, tag_name: str) -> Tag:
    """A tag of the device by member name (`Speed`) or full name (`pump-01.Speed`); 404 otherwise."""
    candidates = list(Tag.objects.select_related("machine").filter(Q(member=tag_name) | Q(name=tag_name),
                                                                   machine=machine)[:2])
    if not candidates:
        raise NotFound(f"Tag '{tag_name}' not found on device '{machine.machine_id}'")
    # The member match first: on a device, `Speed` means its own member even if a tag is named plain `Speed`.
    return min(candidates, key=lambda t: t.member != tag_name)
