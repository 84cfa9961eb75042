"""Alarms' configuration section (settings.KILN_CONFIG_SECTIONS): alarm definitions, keyed by `key`.

Runtime alarms (their ISA-18.2 state) and the journal are not configuration and never travel in a bundle.
"""

from __future__ import annotations

from alarms.choices import AlarmKind, AlarmPriority
from alarms.models import DEFAULT_MAX_SHELVE_SECONDS, AlarmDefinition
from alarms.runtime import alarm_config_changed
from alarms.services import alarm_instances_sync
from scada.configsections import Field, ModelSection
from tags.models import DeviceTypeTag, Tag

__all__ = ["AlarmDefinitionSection"]

# A placeholder primary key for the target rows the model's clean() sees: it reads only their datatype.
_UNSAVED = -1


class AlarmDefinitionSection(ModelSection):
    """Alarm definitions on a tag (by name) or on a device type member (`<type_id>/<version>/<member>`)."""

    name = "alarm_definitions"
    model = AlarmDefinition
    key_fields = ("key",)
    csv = True
    fields = (
        Field("key", max_length=64),
        Field("name", max_length=200),
        Field("tag", kind="ref", ref="tags", path="tag__name", null=True, default=None),
        Field("device_member", kind="ref", ref="device_members", null=True, default=None,
              path=("device_type_tag__device_type__type_id", "device_type_tag__device_type__version",
                    "device_type_tag__member")),
        Field("kind", choices=tuple(AlarmKind.values)),
        Field("setpoint", kind="float", null=True, default=None),
        Field("deadband", kind="float", default=0.0, minimum=0),
        Field("on_delay", kind="float", default=0.0, minimum=0),
        Field("off_delay", kind="float", default=0.0, minimum=0),
        Field("priority", choices=tuple(AlarmPriority.values), default=AlarmPriority.MEDIUM.value),
        Field("category", default="process", max_length=64),
        Field("message", default="", max_length=500),
        Field("ack_requires_reason", kind="bool", default=False),
        Field("reason_codes", kind="json", default=[], choices=("list",)),
        Field("shelve_requires_reason", kind="bool", default=False),
        Field("max_shelve_seconds", kind="int", default=DEFAULT_MAX_SHELVE_SECONDS, minimum=1,
              maximum=2_147_483_647),
        Field("suppress_condition", default="", max_length=1000),
        Field("enabled", kind="bool", default=True),
    )

    def clean_instance(self, obj, item, bundle):
        self.clean_fields(obj, exclude=["tag", "device_type_tag"])
        # The model's own rules (one target, kind against the target's datatype, placeholders, the suppress
        # expression), with the target as the bundle describes it: unsaved stand-ins carrying its datatype.
        tag = bundle.get("tags", {}).get(item["tag"]) if item["tag"] else None
        member = bundle.get("device_members", {}).get(item["device_member"]) if item["device_member"] else None
        if item["tag"] and tag is None or item["device_member"] and member is None:
            return  # reported by check() as a missing reference
        if tag is not None:
            obj.tag = Tag(pk=_UNSAVED, datatype=tag["datatype"])
        if member is not None:
            obj.device_type_tag = DeviceTypeTag(pk=_UNSAVED, datatype=member["datatype"])
        try:
            obj.clean()
        finally:
            obj.tag_id = obj.device_type_tag_id = None

    def after_apply(self) -> None:
        # One runtime alarm per (definition, tag), in the import's transaction: evaluation finds them at once.
        alarm_instances_sync()

    def committed(self) -> None:
        alarm_config_changed()
