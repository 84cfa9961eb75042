"""Audited configuration changes of tags and machines, and device instances made from device types.

`tag_create`, `tag_update`, `tag_delete`, `tags_set_active`, `machine_create_from_type` and
`machine_sync_from_type` are audited in the transaction of the change and announce themselves with
tags.values.tag_config_changed().
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.audit import AuditEntry, audit_record, audit_record_many
from scada.errors import BadRequest, Conflict
from scada.roles import Role
from tags.live import live_delete
from tags.models import RESERVED_TAG_NAMES, DeviceType, Machine, Site, Tag
from tags.services.parsing import datatype_parse, role_parse
from tags.signals import tag_deleted_send
from tags.values import tag_config_changed

__all__ = [
    "machine_get_or_create",
    "tag_create",
    "tag_update",
    "tag_delete",
    "tags_set_active",
    "machine_create_from_type",
    "machine_sync_from_type",
]

# Fields an engineer may set on a tag (identity — name, machine, datatype — is fixed once created).
TAG_CONFIG_FIELDS = ("description", "unit", "decimals", "min_value", "max_value", "deadband", "is_writable",
                     "is_active", "write_role", "requires_signature")


def _tag_snapshot(tag: Tag) -> dict:
    return {"machine_id": tag.machine.machine_id, "name": tag.name, "datatype": tag.datatype,
            "description": tag.description, "unit": tag.unit, "decimals": tag.decimals, "min_value": tag.min_value,
            "max_value": tag.max_value, "deadband": tag.deadband, "is_writable": tag.is_writable,
            "is_active": tag.is_active, "write_role": Role(tag.write_role).label,
            "requires_signature": tag.requires_signature, "member": tag.member}


def _validate_name(name) -> str:
    if not isinstance(name, str) or not name:
        raise BadRequest("name: this field is required")
    if name.lower() in RESERVED_TAG_NAMES:
        raise BadRequest(f"name: '{name}' is a reserved name ({', '.join(sorted(RESERVED_TAG_NAMES))})")
    return name


def _full_clean(obj) -> None:
    from django.core.exceptions import ValidationError

    try:
        obj.full_clean(validate_unique=False)
    except ValidationError as exc:
        parts = [f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v) for k, v in exc.message_dict.items()]
        raise BadRequest("; ".join(parts))


def _on_config_commit() -> None:
    transaction.on_commit(tag_config_changed)


@transaction.atomic
def machine_get_or_create(*, machine_id: str, user, site: Site | None = None, name: str = "") -> Machine:
    """The machine with this id, created (and audited) if it does not exist yet."""
    machine = Machine.objects.filter(machine_id=machine_id).first()
    if machine is not None:
        return machine
    machine = Machine(machine_id=machine_id, name=name or machine_id, site=site)
    _full_clean(machine)
    try:
        with transaction.atomic():
            machine.save()
    except IntegrityError:
        return Machine.objects.get(machine_id=machine_id)  # created concurrently
    audit_record(action="machine.create", user=user, object_type="machine", object_id=machine.machine_id,
                 new_value={"machine_id": machine.machine_id, "name": machine.name,
                            "site": site.site_id if site else None})
    return machine


@transaction.atomic
def tag_create(*, user, machine_id: str, name: str, datatype, description: str = "", unit: str = "",
               min_value: float | None = None, max_value: float | None = None, deadband: float = 0,
               is_writable: bool = False, is_active: bool = True, write_role=Role.SUPERVISOR,
               requires_signature: bool = False, member: str = "", decimals: int | None = None) -> Tag:
    """Create a tag on a machine (created too when it does not exist yet). 409 when the name is taken."""
    name = _validate_name(name)
    datatype = datatype_parse(datatype)
    if not machine_id or not isinstance(machine_id, str):
        raise BadRequest("machine_id: this field is required")
    if Tag.objects.filter(name=name).exists():
        raise Conflict(f"Tag '{name}' already exists")
    machine = machine_get_or_create(machine_id=machine_id, user=user)
    tag = Tag(machine=machine, name=name, datatype=datatype, description=description or "", unit=unit or "",
              min_value=min_value, max_value=max_value, deadband=deadband or 0, is_writable=is_writable,
              is_active=is_active, write_role=role_parse(write_role), requires_signature=requires_signature,
              member=member or "", decimals=decimals)
    _full_clean(tag)
    try:
        with transaction.atomic():
            tag.save()
    except IntegrityError:
        raise Conflict(f"Tag '{name}' already exists")
    audit_record(action="tag.create", user=user, object_type="tag", object_id=tag.name, new_value=_tag_snapshot(tag))
    _on_config_commit()
    return tag


@transaction.atomic
def tag_update(*, user, tag: Tag, data: dict[str, Any], reason: str = "") -> Tag:
    """Change a tag's configuration (never its value). Identity fields may be repeated but not changed."""
    for key, current in (("name", tag.name), ("machine_id", tag.machine.machine_id), ("datatype", tag.datatype)):
        if key in data and data[key] is not None:
            given = datatype_parse(data[key]) if key == "datatype" else data[key]
            if given != current:
                raise BadRequest(f"{key} cannot be changed (create a new tag instead)")
    # Lock the row so two engineers' edits are applied one after the other, each audited against the other.
    locked = Tag.objects.select_for_update().select_related("machine").get(pk=tag.pk)
    old = _tag_snapshot(locked)
    for key in TAG_CONFIG_FIELDS:
        if key in data:
            value = data[key]
            if key == "write_role":
                value = role_parse(value)
            elif key in ("description", "unit"):
                value = value or ""
            elif key == "deadband":
                value = value or 0
            setattr(locked, key, value)
    _full_clean(locked)
    locked.save()
    new = _tag_snapshot(locked)
    changed = {k: v for k, v in new.items() if old[k] != v}
    if changed:
        audit_record(action="tag.update", user=user, object_type="tag", object_id=locked.name,
                     old_value={k: old[k] for k in changed}, new_value=changed, reason=reason)
        _on_config_commit()
    return locked


@transaction.atomic
def tag_delete(*, user, tag: Tag, reason: str = "") -> datetime:
    """Delete a tag (Admin). 409 when other configuration still refers to it. Returns the deletion time."""
    snapshot = _tag_snapshot(tag)
    tag_id = tag.pk
    try:
        with transaction.atomic():
            tag.delete()
    except ProtectedError as exc:
        refs = sorted({obj._meta.verbose_name for obj in exc.protected_objects})
        raise Conflict(f"Tag '{snapshot['name']}' is still used by: {', '.join(refs)}")
    record = audit_record(action="tag.delete", user=user, object_type="tag", object_id=snapshot["name"],
                          old_value=snapshot, reason=reason)
    # The live value (and whatever other apps keep per tag) goes with the tag, once the delete is certain.
    transaction.on_commit(lambda: live_delete([tag_id]))
    transaction.on_commit(lambda: tag_deleted_send(tag_id, snapshot["name"]))
    _on_config_commit()
    return record.ts


@transaction.atomic
def tags_set_active(*, user, tags, is_active: bool, reason: str = "") -> int:
    """Activate or deactivate many tags (admin bulk action); one audit record per tag changed."""
    changing = list(Tag.objects.select_for_update().filter(pk__in=[t.pk for t in tags]).exclude(is_active=is_active)
                    .order_by("pk"))
    if not changing:
        return 0
    Tag.objects.filter(pk__in=[t.pk for t in changing]).update(is_active=is_active, last_updated=timezone.now())
    audit_record_many(entries=[
        AuditEntry(action="tag.update", user=user, object_type="tag", object_id=t.name,
                   old_value={"is_active": not is_active}, new_value={"is_active": is_active}, reason=reason)
        for t in changing
    ])
    _on_config_commit()
    return len(changing)


# --- machines from device types ---------------------------------------------------------------------------------

def _member_tag(machine: Machine, member) -> Tag:
    return Tag(machine=machine, name=f"{machine.machine_id}.{member.member}", member=member.member,
               datatype=member.datatype, description=member.description, unit=member.unit, decimals=member.decimals,
               min_value=member.min_value, max_value=member.max_value, deadband=member.deadband,
               is_writable=member.is_writable, write_role=member.write_role,
               requires_signature=member.requires_signature)


@transaction.atomic
def machine_create_from_type(*, machine_id: str, device_type: DeviceType, site: Site | None = None, name: str = "",
                             location: str = "", process_id: str = "", user=None, machine: Machine | None = None
                             ) -> Machine:
    """Create a device instance of a type: the Machine and one Tag `<machine_id>.<member>` per member tag.

    Pass `machine` (unsaved, e.g. from an admin form) to save that instance instead of building one. 409 when the
    machine id or one of the tag names is taken.
    """
    if machine is None:
        machine = Machine(machine_id=machine_id, name=name or machine_id, site=site, location=location,
                          process_id=process_id)
    machine.device_type = device_type
    _full_clean(machine)
    if Machine.objects.filter(machine_id=machine.machine_id).exclude(pk=machine.pk).exists():
        raise Conflict(f"Machine '{machine.machine_id}' already exists")
    members = list(device_type.member_tags.all())
    tags = [_member_tag(machine, m) for m in members]
    taken = set(Tag.objects.filter(name__in=[t.name for t in tags]).values_list("name", flat=True))
    if taken:
        raise Conflict(f"Tag '{sorted(taken)[0]}' already exists")
    machine.save()
    for t in tags:
        t.machine = machine
        _full_clean(t)
    Tag.objects.bulk_create(tags)
    audit_record(action="machine.create", user=user, object_type="machine", object_id=machine.machine_id,
                 new_value={"machine_id": machine.machine_id, "name": machine.name,
                            "site": machine.site.site_id if machine.site else None,
                            "device_type": str(device_type), "tags": [t.name for t in tags]})
    _on_config_commit()
    return machine


@transaction.atomic
def machine_sync_from_type(*, machine: Machine, user=None) -> list[Tag]:
    """Create the member tags a machine's device type has gained since the machine was made; returns them."""
    if machine.device_type_id is None:
        return []
    have = set(machine.tags.values_list("member", flat=True))
    missing = [_member_tag(machine, m) for m in machine.device_type.member_tags.all() if m.member not in have]
    if not missing:
        return []
    taken = set(Tag.objects.filter(name__in=[t.name for t in missing]).values_list("name", flat=True))
    if taken:
        raise Conflict(f"Tag '{sorted(taken)[0]}' already exists")
    Tag.objects.bulk_create(missing)
    audit_record(action="machine.update", user=user, object_type="machine", object_id=machine.machine_id,
                 new_value={"tags_added": [t.name for t in missing]}, reason=f"synced with {machine.device_type}")
    _on_config_commit()
    return missing
