"""Read-only queries for the HMI pages: screens with their tags, tag configuration the browser needs, and
the first paint of live values (so a page shows numbers before its WebSocket snapshot arrives).
"""

from __future__ import annotations

import logging

import redis
from django.db.models import Q

from alarms.selectors import alarm_limits
from hmi.bindings import binding_devices, binding_tag_names
from hmi.models import Screen
from scada.api.renderers import iso_utc
from scada.roles import Role
from tags.live import live_get_many
from tags.models import DeviceCommand, Machine, Tag

logger = logging.getLogger(__name__)

__all__ = ["screen_list", "screen_home", "screen_context", "tag_config", "device_config", "live_snapshot",
           "tag_browser_page", "live_as_dict", "screens_using_tag", "screen_tag_usage", "tag_picker",
           "screen_versions", "editor_context"]


def screen_list():
    return Screen.objects.only("id", "name", "slug", "description", "is_home", "sort_order", "bindings",
                               "last_updated").order_by("sort_order", "name")


def screen_home() -> Screen | None:
    return Screen.objects.filter(is_home=True).first() or Screen.objects.order_by("sort_order", "name").first()


def tag_config(names) -> dict[str, dict]:
    """What the browser needs to show and offer writes on these tags, keyed by name (unknown names absent)."""
    rows = Tag.objects.filter(name__in=list(names)).select_related("machine", "machine__site")
    return {t.name: _tag_dict(t) for t in rows}


def _tag_dict(t: Tag) -> dict:
    return {
        "id": t.pk,
        "name": t.name,
        "machine_id": t.machine.machine_id,
        "site_id": t.machine.site.site_id if t.machine.site_id else None,
        "member": t.member,
        "datatype": t.datatype,
        "unit": t.unit,
        "decimals": t.decimals,
        "description": t.description,
        "min_value": t.min_value,
        "max_value": t.max_value,
        "is_writable": t.is_writable and t.is_active,
        "write_role": Role(t.write_role).label,
        "write_role_level": int(t.write_role),
        "requires_signature": t.requires_signature,
    }


def device_config(machine_ids) -> dict[str, dict]:
    """Devices (seed 004 instances) with their commands, for faceplates and command buttons."""
    machines = Machine.objects.filter(machine_id__in=list(machine_ids)).select_related("site", "device_type")
    out: dict[str, dict] = {}
    type_ids = {m.device_type_id for m in machines if m.device_type_id}
    commands: dict[int, list[dict]] = {}
    for c in DeviceCommand.objects.filter(device_type_id__in=type_ids).order_by("command_id"):
        commands.setdefault(c.device_type_id, []).append({
            "id": c.command_id,
            "name": c.name or c.command_id,
            "description": c.description,
            "min_role": Role(c.min_role).label,
            "min_role_level": int(c.min_role),
            "parameters": c.parameters or {},
        })
    for m in machines:
        out[m.machine_id] = {
            "id": m.machine_id,
            "name": m.name or m.machine_id,
            "site_id": m.site.site_id if m.site_id else None,
            "type": m.device_type.type_id if m.device_type_id else None,
            "commands": commands.get(m.device_type_id, []),
        }
    return out


def live_as_dict(lv) -> dict | None:
    if lv is None:
        return None
    from datetime import UTC, datetime

    return {"value": lv.value, "quality": lv.quality, "substatus": lv.substatus,
            "ts": iso_utc(datetime.fromtimestamp(lv.ts, tz=UTC))}


def _live_or_none(tag_ids) -> dict | None:
    """live_get_many, or None while Redis is unreachable: a page then shows its values as unknown, not a 500."""
    try:
        return live_get_many(tag_ids)
    except redis.RedisError as exc:
        logger.warning("HMI page without live values (Redis unreachable): %s", exc)
        return None


def live_snapshot(tags: dict[str, dict]) -> dict[str, dict | None] | None:
    """Current values of the given tags (from tag_config) in one Redis round trip, keyed by name.

    None when the live table is unreachable (see `_live_or_none`).
    """
    by_id = {cfg["id"]: name for name, cfg in tags.items()}
    values = _live_or_none(by_id.keys())
    if values is None:
        return None
    return {by_id[tid]: live_as_dict(lv) for tid, lv in values.items()}


def screen_context(screen: Screen) -> dict:
    """Everything the screen page embeds: bindings, tag configuration, devices, first live values."""
    names = binding_tag_names(screen.bindings)
    devices = set(binding_devices(screen.bindings))
    tags = tag_config(names)
    # A device faceplate shows the device's status, key values and setpoints: load its members with the device.
    member_tags = Tag.objects.filter(machine__machine_id__in=devices, is_active=True).select_related(
        "machine", "machine__site")
    for t in member_tags:
        tags.setdefault(t.name, _tag_dict(t))
    devs = device_config(devices | {cfg["machine_id"] for cfg in tags.values() if cfg["member"]})
    for cfg in tags.values():
        dev = devs.get(cfg["machine_id"])
        if dev is not None and cfg["member"]:
            dev.setdefault("members", []).append(cfg["name"])
    live = live_snapshot(tags)
    return {"bindings": screen.bindings, "tags": tags, "devices": devs, "live": live or {},
            "live_unavailable": live is None, "missing": sorted(set(names) - set(tags)),
            "alarm_limits": alarm_limits(tags)}


def tag_browser_page(*, search: str = "", machine: str = "", datatype: str = "", quality: str = "",
                     writable: bool = False, limit: int = 100, offset: int = 0) -> dict:
    """One page of the tag browser: filtered tags with their configuration, devices and live values.

    Quality filtering needs the live values, so it reads them for every tag that passes the SQL filters
    (one HMGET); fine for plants of tens of thousands of tags.
    """
    qs = Tag.objects.filter(is_active=True).select_related("machine", "machine__site").order_by("name")
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if machine:
        qs = qs.filter(machine__machine_id=machine)
    if datatype:
        qs = qs.filter(datatype=datatype)
    if writable:
        qs = qs.filter(is_writable=True)
    unavailable = False
    if quality:
        ids = list(qs.values_list("id", flat=True))
        # Live table unreachable: every value is unknown, so only "no value" matches.
        live = _live_or_none(ids)
        unavailable = live is None
        live = live or {}
        if quality == "NONE":
            keep = [i for i in ids if live.get(i) is None]
        else:
            keep = [i for i in ids if live.get(i) is not None and live[i].quality == quality]
        qs = qs.filter(id__in=keep)
    total = qs.count()
    rows = list(qs[offset: offset + limit])
    tags = {t.name: _tag_dict(t) for t in rows}
    devices = device_config({t.machine.machine_id for t in rows if t.member})
    live = live_snapshot(tags)
    return {"tags": tags, "order": [t.name for t in rows], "live": live or {}, "alarm_limits": alarm_limits(tags),
            "live_unavailable": unavailable or live is None, "devices": devices, "total": total, "limit": limit,
            "offset": offset}


def screens_using_tag(name: str) -> list[Screen]:
    """Screens whose bindings name this tag, in menu order ("where used"; a screen has at most 5,000 bindings)."""
    return [s for s in screen_list() if name in s.tag_names]


def screen_tag_usage(name: str) -> list[dict]:
    """KILN_TAG_USAGE_PROVIDERS entry: where the HMI uses a tag, for the tag's admin page and its rename/delete."""
    return [{"kind": "screen", "name": s.name, "url": f"/screens/{s.slug}/", "slug": s.slug}
            for s in screens_using_tag(name)]


def screen_versions(screen: Screen):
    return screen.versions.only("number", "name", "created", "created_by", "note", "bindings").order_by("-number")


def tag_picker(*, search: str = "", machine: str = "", limit: int = 50, offset: int = 0) -> dict:
    """Tags for the screen editor's picker: every word of `search` must match the tag's name, member name,
    description, machine id or machine name (any letter case); `machine` narrows to one machine."""
    qs = Tag.objects.select_related("machine", "machine__site").order_by("name")
    if machine:
        qs = qs.filter(machine__machine_id=machine)
    for word in search.split()[:8]:
        qs = qs.filter(Q(name__icontains=word) | Q(member__icontains=word) | Q(description__icontains=word)
                       | Q(machine__machine_id__icontains=word) | Q(machine__name__icontains=word))
    total = qs.count()
    rows = [{**_tag_dict(t), "is_active": t.is_active} for t in qs[offset: offset + limit]]
    return {"count": total, "results": rows}


def editor_context(screen: Screen | None) -> dict:
    """What the screen editor page embeds: the screen (or none), its tags' configuration, every device with its
    commands (for faceplate and command buttons), the machines (the picker's filter) and the screens (links)."""
    bindings = screen.bindings if screen else []
    devices = device_config(Machine.objects.exclude(device_type=None).values_list("machine_id", flat=True))
    editor = {
        "screen": None if screen is None else {
            "slug": screen.slug, "name": screen.name, "description": screen.description, "svg": screen.svg,
            "bindings": bindings, "version": screen.version, "url": f"/screens/{screen.slug}/"},
        "machines": list(Machine.objects.order_by("machine_id").values_list("machine_id", flat=True)[:2000]),
        "devices": devices,
        "screens": list(screen_list().values("slug", "name")),
    }
    return {"editor": editor, "tags": tag_config(binding_tag_names(bindings)), "devices": devices}
