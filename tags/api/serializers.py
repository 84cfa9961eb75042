"""Tag API serializers: validation of input, and the seed 003 shapes of tags in responses.

The list endpoint builds its items in tags.selectors.tag_list (plain tuples → dicts, the hot path); the
`TagListItemSerializer` below documents that shape for the OpenAPI schema and a test keeps the two in step.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scada.api.renderers import iso_utc
from scada.api.serializers import StrictInputSerializer, case_insensitive_pattern, documented_field
from scada.roles import Role
from tags.choices import DataType, Quality
from tags.display import value_shown
from tags.live import LiveValue
from tags.models import MAX_DECIMALS, RESERVED_TAG_NAMES, SLUG_RE, TAG_NAME_RE, Tag
from tags.selectors import live_value_dict
from tags.services import BATCH_WRITE_MAX

__all__ = [
    "TagSerializer",
    "TagListItemSerializer",
    "TagCreateInputSerializer",
    "TagUpdateInputSerializer",
    "TagWriteInputSerializer",
    "TagWriteResponseSerializer",
    "TagStatsSerializer",
    "BatchWriteInputSerializer",
    "BatchWriteResponseSerializer",
    "TagDeleteResponseSerializer",
    "tag_write_response",
]

ANY_JSON = serializers.JSONField


class TagSerializer(serializers.ModelSerializer):
    """A tag with its live value (seed 003 Tag Data Model). Pass context={"live": {tag_id: LiveValue | None}}."""

    machine_id = serializers.CharField(source="machine.machine_id", read_only=True)
    value = serializers.SerializerMethodField()
    value_text = serializers.SerializerMethodField(
        help_text="The value as the HMI shows it: the tag's decimals (automatic when null), ON/OFF for booleans, "
                  "no unit. `value` itself is never rounded.")
    timestamp = serializers.SerializerMethodField()
    quality = serializers.SerializerMethodField()
    substatus = serializers.SerializerMethodField()
    write_role = serializers.SerializerMethodField()
    last_write_at = serializers.SerializerMethodField()
    created_at = serializers.SerializerMethodField()
    updated_at = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = ["machine_id", "name", "datatype", "value", "value_text", "timestamp", "description", "unit",
                  "decimals", "min_value", "max_value", "quality", "substatus", "is_writable", "is_active",
                  "write_role", "requires_signature", "deadband", "member", "last_write_by", "last_write_at",
                  "write_count", "created_at", "updated_at"]
        read_only_fields = fields

    def _live(self, obj) -> dict:
        live: dict[int, LiveValue | None] = self.context.get("live") or {}
        return live_value_dict(live.get(obj.pk))

    @extend_schema_field(OpenApiTypes.ANY)
    def get_value(self, obj):
        return self._live(obj)["value"]

    def get_value_text(self, obj) -> str | None:
        return value_shown(self._live(obj)["value"], obj.decimals)

    def get_timestamp(self, obj) -> str | None:
        return self._live(obj)["timestamp"]

    def get_quality(self, obj) -> str | None:
        return self._live(obj)["quality"]

    def get_substatus(self, obj) -> str | None:
        return self._live(obj)["substatus"]

    def get_write_role(self, obj) -> str:
        return Role(obj.write_role).label

    def get_last_write_at(self, obj) -> str | None:
        return iso_utc(obj.last_write_at)

    def get_created_at(self, obj) -> str | None:
        return iso_utc(obj.created)

    def get_updated_at(self, obj) -> str | None:
        return iso_utc(obj.last_updated)


class TagListItemSerializer(serializers.Serializer):
    """One item of GET /api/tags (seed 003 list shape); value fields only with include_values=true."""

    machine_id = serializers.CharField()
    name = serializers.CharField()
    datatype = serializers.ChoiceField(choices=["BOOL", "INT", "REAL", "STRING"])
    value = ANY_JSON(required=False, allow_null=True)
    timestamp = serializers.CharField(required=False, allow_null=True)
    description = serializers.CharField()
    unit = serializers.CharField()
    quality = serializers.CharField(required=False, allow_null=True)
    substatus = serializers.CharField(required=False, allow_null=True)
    is_writable = serializers.BooleanField()
    is_active = serializers.BooleanField()
    decimals = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="Only with formatted=true: the tag's display decimals")
    value_text = serializers.CharField(required=False, allow_null=True,
                                       help_text="Only with formatted=true and include_values: the value as the HMI "
                                                 "shows it (the tag's decimals, ON/OFF, no unit)")


# The rules tags.services and the Tag model enforce, stated in the schema (the service keeps the seed's messages).
TAG_NAME_SCHEMA = {"type": "string", "pattern": TAG_NAME_RE, "maxLength": 128,
                   "not": {"pattern": case_insensitive_pattern(sorted(RESERVED_TAG_NAMES))},
                   "description": f"Unique across the plant; reserved: {', '.join(sorted(RESERVED_TAG_NAMES))}"}
MACHINE_ID_SCHEMA = {"type": "string", "pattern": SLUG_RE, "maxLength": 64}
DATATYPE_SCHEMA = {"type": "string", "pattern": case_insensitive_pattern(DataType.values),
                   "description": f"One of {', '.join(DataType.values)} (any letter case)"}
QUALITY_SCHEMA = {"type": "string", "pattern": case_insensitive_pattern(Quality.values),
                  "description": f"One of {', '.join(Quality.values)} (any letter case)"}
ROLE_SCHEMA = {"type": "string", "pattern": case_insensitive_pattern([r.label for r in Role]),
               "description": "operator, supervisor, engineer or admin"}


class _TagConfigFields(StrictInputSerializer):
    """Configuration fields only: a `value` (or a typo) in a create or update body is refused, not ignored."""

    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    unit = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=32)
    decimals = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_DECIMALS,
                                        help_text="Digits shown after the decimal point; null: automatic")
    min_value = serializers.FloatField(required=False, allow_null=True)
    max_value = serializers.FloatField(required=False, allow_null=True)
    deadband = serializers.FloatField(required=False, min_value=0)
    is_writable = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    write_role = documented_field(serializers.CharField, ROLE_SCHEMA, required=False)
    requires_signature = serializers.BooleanField(required=False)


class TagCreateInputSerializer(_TagConfigFields):
    """POST /api/tags. `datatype` is checked by the service so its error carries the seed's exact text."""

    machine_id = documented_field(serializers.CharField, MACHINE_ID_SCHEMA, max_length=64)
    name = documented_field(serializers.CharField, TAG_NAME_SCHEMA, max_length=128)
    datatype = documented_field(serializers.CharField, DATATYPE_SCHEMA, max_length=32)


class TagUpdateInputSerializer(_TagConfigFields):
    """PUT /api/tags/{name}: any subset of the configuration; name, machine_id, datatype may only repeat."""

    machine_id = documented_field(serializers.CharField, MACHINE_ID_SCHEMA, required=False)
    name = documented_field(serializers.CharField, TAG_NAME_SCHEMA, required=False)
    datatype = documented_field(serializers.CharField, DATATYPE_SCHEMA, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class SignatureSerializer(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False)
    meaning = serializers.CharField(max_length=200)
    reason = serializers.CharField(max_length=1000)


class TagWriteInputSerializer(StrictInputSerializer):
    """A write: value, and for tags no PLC feeds an optional quality and timestamp; signature when required."""

    value = ANY_JSON(allow_null=True)
    quality = documented_field(serializers.CharField, QUALITY_SCHEMA, required=False, allow_null=True)
    timestamp = serializers.DateTimeField(required=False, allow_null=True)
    signature = serializers.DictField(required=False, allow_null=True,
                                      help_text="{password, meaning, reason} for tags that require an e-signature")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class _WrittenTagSerializer(serializers.Serializer):
    machine_id = serializers.CharField()
    name = serializers.CharField()
    datatype = serializers.CharField()
    value = ANY_JSON()
    previous_value = ANY_JSON()
    timestamp = serializers.CharField()
    quality = serializers.CharField()
    confirmed = serializers.BooleanField(allow_null=True)
    live_updated = serializers.BooleanField(
        help_text="false when the stated timestamp is older than the live value: the value went to history only")
    last_write_by = serializers.CharField()
    last_write_at = serializers.CharField()
    write_count = serializers.IntegerField()
    audit_id = serializers.IntegerField()


class TagWriteResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField(help_text="What was done: written, written to history only (older than the "
                                              "live value), or written to the PLC with stated quality/timestamp "
                                              "not applied")
    tag = _WrittenTagSerializer()


def tag_write_response(result) -> dict:
    """Seed 003's write response for a WriteResult."""
    tag = result.tag
    return {
        "success": True,
        "message": result.message,
        "tag": {
            "machine_id": tag.machine.machine_id,
            "name": tag.name,
            "datatype": tag.datatype,
            "value": result.value,
            "previous_value": result.previous_value,
            "timestamp": iso_utc(result.timestamp),
            "quality": result.quality,
            "confirmed": result.confirmed,
            "live_updated": result.live,
            "last_write_by": tag.last_write_by,
            "last_write_at": iso_utc(tag.last_write_at),
            "write_count": tag.write_count,
            "audit_id": result.audit_id,
        },
    }


class TagStatsSerializer(serializers.Serializer):
    total_tags = serializers.IntegerField()
    active_tags = serializers.IntegerField()
    inactive_tags = serializers.IntegerField()
    by_datatype = serializers.DictField(child=serializers.IntegerField())
    by_quality = serializers.DictField(child=serializers.IntegerField())
    writable_tags = serializers.IntegerField()
    recent_writes = serializers.IntegerField(help_text="Tag writes in the last 24 hours")


class BatchWriteInputSerializer(serializers.Serializer):
    """The envelope only: each item is checked on its own by the service, so one bad item fails alone."""

    writes = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=BATCH_WRITE_MAX)

    def validate_writes(self, writes: list[dict]) -> list[dict]:
        # The item's identity must be text before the service looks it up: an object as a name was
        # unhashable (a 500) and an object as machine_id reached SQL. Values stay the service's to judge.
        errors = [f"item {i}: {key} must be a string" for i, item in enumerate(writes)
                  for key in ("machine_id", "name") if item.get(key) is not None and not isinstance(item[key], str)]
        if errors:
            raise serializers.ValidationError(errors)
        return writes


class _BatchItemResultSerializer(serializers.Serializer):
    machine_id = serializers.CharField()
    name = serializers.CharField()
    success = serializers.BooleanField()
    timestamp = serializers.CharField(required=False)
    value = ANY_JSON(required=False)
    audit_id = serializers.IntegerField(required=False)
    live_updated = serializers.BooleanField(required=False)
    message = serializers.CharField(required=False)
    status = serializers.IntegerField(required=False, help_text="HTTP status the item alone would have had")
    error = serializers.CharField(required=False)


class BatchWriteResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="true when every write succeeded")
    total_writes = serializers.IntegerField()
    successful_writes = serializers.IntegerField()
    failed_writes = serializers.IntegerField()
    results = _BatchItemResultSerializer(many=True)


class _DeletedTagSerializer(serializers.Serializer):
    machine_id = serializers.CharField()
    name = serializers.CharField()


class TagDeleteResponseSerializer(serializers.Serializer):
    message = serializers.CharField()
    deleted_tag = _DeletedTagSerializer()
    deleted_at = serializers.CharField()
