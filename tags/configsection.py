"""Tags' configuration sections (settings.KILN_CONFIG_SECTIONS): sites, device types with their member tags and
commands, machines and tags. The protocol is scada.configsections'; the deploy app drives it.
"""

from __future__ import annotations

from django.db import transaction

from scada.configsections import Field, ModelSection
from tags.choices import DataType
from tags.live import live_delete
from tags.models import MAX_DECIMALS, RESERVED_TAG_NAMES, DeviceCommand, DeviceType, DeviceTypeTag, Machine, Site, Tag
from tags.signals import tag_deleted_send
from tags.values import tag_config_changed

__all__ = ["SiteSection", "DeviceTypeSection", "DeviceMemberSection", "DeviceCommandSection", "MachineSection",
           "TagSection"]

DATATYPES = tuple(DataType.values)
_DEVICE_TYPE_REF = ("device_type__type_id", "device_type__version")


class SiteSection(ModelSection):
    """Sites (seed 004 `siteId`)."""

    name = "sites"
    model = Site
    key_fields = ("site_id",)
    fields = (
        Field("site_id", max_length=64),
        Field("name", max_length=200),
        Field("description", default=""),
    )


class DeviceTypeSection(ModelSection):
    """Device types (templates), keyed `<type_id>/<version>`."""

    name = "device_types"
    model = DeviceType
    key_fields = ("type_id", "version")
    fields = (
        Field("type_id", max_length=128),
        Field("version", max_length=32),
        Field("name", max_length=200),
        Field("description", default=""),
        Field("status_expression", default="", max_length=500),
    )


class DeviceMemberSection(ModelSection):
    """A device type's member tags, keyed `<type_id>/<version>/<member>`."""

    name = "device_members"
    model = DeviceTypeTag
    key_fields = ("device_type", "member")
    fields = (
        Field("device_type", kind="ref", ref="device_types", path=_DEVICE_TYPE_REF),
        Field("member", max_length=64),
        Field("datatype", choices=DATATYPES, default=DataType.REAL.value),
        Field("description", default="", max_length=500),
        Field("unit", default="", max_length=32),
        Field("decimals", kind="int", null=True, default=None, minimum=0, maximum=MAX_DECIMALS),
        Field("min_value", kind="float", null=True, default=None),
        Field("max_value", kind="float", null=True, default=None),
        Field("is_writable", kind="bool", default=False),
        Field("write_role", kind="role", default="supervisor"),
        Field("requires_signature", kind="bool", default=False),
        Field("deadband", kind="float", default=0.0, minimum=0),
    )

    def check(self, items, bundle, fresh=None):
        problems = super().check(items, bundle, fresh)
        for key, item in items.items():
            lo, hi = item["min_value"], item["max_value"]
            if lo is not None and hi is not None and lo >= hi:
                problems.append((key, "min_value must be less than max_value"))
        return problems


class DeviceCommandSection(ModelSection):
    """A device type's commands (parameters, preconditions, actions), keyed `<type_id>/<version>/<command_id>`."""

    name = "device_commands"
    model = DeviceCommand
    key_fields = ("device_type", "command_id")
    fields = (
        Field("device_type", kind="ref", ref="device_types", path=_DEVICE_TYPE_REF),
        Field("command_id", max_length=64),
        Field("name", default="", max_length=200),
        Field("description", default=""),
        Field("min_role", kind="role", default="operator"),
        Field("parameters", kind="json", default={}, choices=("dict",)),
        Field("preconditions", kind="json", default=[], choices=("list",)),
        Field("actions", kind="json", default=[], choices=("list",)),
    )


class MachineSection(ModelSection):
    """Machines (device instances), keyed by machine_id. Their member tags are in the tags section."""

    name = "machines"
    model = Machine
    key_fields = ("machine_id",)
    fields = (
        Field("machine_id", max_length=64),
        Field("name", default="", max_length=200),
        Field("site", kind="ref", ref="sites", path="site__site_id", null=True, default=None),
        Field("device_type", kind="ref", ref="device_types", path=_DEVICE_TYPE_REF, null=True, default=None),
        Field("location", default="", max_length=200),
        Field("process_id", default="", max_length=128),
    )

    def committed(self) -> None:
        tag_config_changed()


class TagSection(ModelSection):
    """Tags with their limits, write roles, signature flags and deadbands, keyed by name (unique plant-wide)."""

    name = "tags"
    model = Tag
    key_fields = ("name",)
    csv = True
    fields = (
        Field("name", max_length=128),
        Field("machine", kind="ref", ref="machines", path="machine__machine_id"),
        Field("member", default="", max_length=64),
        Field("datatype", choices=DATATYPES),
        Field("description", default="", max_length=500),
        Field("unit", default="", max_length=32),
        Field("decimals", kind="int", null=True, default=None, minimum=0, maximum=MAX_DECIMALS),
        Field("min_value", kind="float", null=True, default=None),
        Field("max_value", kind="float", null=True, default=None),
        Field("deadband", kind="float", default=0.0, minimum=0),
        Field("is_writable", kind="bool", default=False),
        Field("is_active", kind="bool", default=True),
        Field("write_role", kind="role", default="supervisor"),
        Field("requires_signature", kind="bool", default=False),
    )

    def __init__(self):
        super().__init__()
        self._removed: list[tuple[int, str]] = []

    def clean_instance(self, obj, item, bundle):
        # Tag.clean's own rules (reserved names, limits by datatype) without its extension validators, which look
        # at the tag's stored binding: the bundle's bindings are checked against the bundle's tags instead.
        from django.core.exceptions import ValidationError

        self.clean_fields(obj, exclude=["machine"])
        if obj.name.lower() in RESERVED_TAG_NAMES:
            raise ValidationError({"name": f"'{obj.name}' is a reserved name"})
        if obj.min_value is not None and obj.max_value is not None and obj.min_value >= obj.max_value:
            raise ValidationError({"min_value": "min_value must be less than max_value"})
        if obj.datatype in (DataType.BOOL, DataType.STRING) and (obj.min_value is not None
                                                                 or obj.max_value is not None):
            raise ValidationError({"min_value": f"{obj.datatype} tags have no limits: min_value and max_value "
                                                f"apply to INT and REAL tags"})

    def removing(self, pks):
        names = dict(Tag.objects.filter(pk__in=pks).values_list("pk", "name"))
        self._removed = list(names.items())
        removed = list(self._removed)
        # As tags.services.tag_delete does: live values and other apps' per-tag data go once the delete commits.
        transaction.on_commit(lambda: live_delete([pk for pk, _ in removed]))
        for pk, name in removed:
            transaction.on_commit(lambda pk=pk, name=name: tag_deleted_send(pk, name))

    def committed(self) -> None:
        tag_config_changed()
