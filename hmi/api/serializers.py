"""Serializers of the screens API: the list, one screen with its drawing and bindings, its versions, and the
editor's input (checked for shape here; hmi.services sanitizes the drawing and validates the bindings)."""

from rest_framework import serializers

from hmi.bindings import COLOR_RE, SLUG_RE, TAG_NAME_RE
from hmi.choices import BindingKind, ClickAction
from hmi.models import Screen, ScreenVersion
from hmi.sanitize import MAX_SVG_BYTES
from scada.api.renderers import iso_utc
from scada.api.serializers import KilnModelSerializer, StrictInputSerializer, documented_field
from scada.text import has_nul

__all__ = ["ScreenSerializer", "ScreenDetailSerializer", "ScreenInputSerializer", "ScreenUpdateInputSerializer",
           "ScreenVersionSerializer", "TagPickerItemSerializer",
           "TagPickerPageSerializer"]


_NUMBER = {"type": "number"}
_COLOR = {"type": "string", "pattern": COLOR_RE.pattern, "maxLength": 64}
_SLUG = {"type": "string", "pattern": SLUG_RE.pattern}
_LABEL = {"type": "string", "maxLength": 64, "pattern": "^[^\\x00]*$"}

# One binding (hmi.bindings validates it per kind: which keys a kind takes, min < max, the id in the drawing).
BINDING_SCHEMA = {
    "type": "object",
    "required": ["element", "kind"],
    "additionalProperties": False,
    "properties": {
        "element": {"type": "string", "pattern": "^[A-Za-z_][\\w.:-]{0,127}$",
                    "description": "id of the SVG element"},
        "kind": {"type": "string", "enum": list(BindingKind.values)},
        "tag": {"type": "string", "pattern": TAG_NAME_RE.pattern, "description": "an existing tag's name"},
        "decimals": {"type": "integer", "minimum": 0, "maximum": 6},
        "show_unit": {"type": "boolean"},
        "unit": {"type": "string", "maxLength": 32, "pattern": "^[^\\x00]*$"},
        "labels": {"type": "object", "additionalProperties": _LABEL},
        "attribute": {"type": "string", "enum": ["fill", "stroke"]},
        "default": _COLOR,
        "ranges": {"type": "array", "items": {"type": "object", "required": ["color"], "additionalProperties": False,
                                              "properties": {"below": _NUMBER, "color": _COLOR}}},
        "states": {"type": "object", "additionalProperties": _COLOR},
        "min": _NUMBER, "max": _NUMBER, "above": _NUMBER, "below": _NUMBER, "degrees": _NUMBER, "cx": _NUMBER,
        "cy": _NUMBER,
        "direction": {"type": "string", "enum": ["up", "right"]},
        "when": {"oneOf": [{"type": "boolean"}, _NUMBER, _LABEL]},
        "action": {"type": "string", "enum": list(ClickAction.values)},
        "device": _SLUG, "command": _SLUG, "screen": _SLUG,
    },
}
BINDINGS_SCHEMA = {"type": "array", "maxItems": 5000, "items": BINDING_SCHEMA,
                   "description": "Bindings of SVG element ids to tags (docs/hmi.md); every tag, device and "
                                  "screen named must exist."}


class ScreenSerializer(KilnModelSerializer):
    """A screen as listed by GET /api/screens: identity, the tags it uses and where the page is."""

    tags = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    updated_at = serializers.SerializerMethodField()

    class Meta:
        model = Screen
        fields = ["id", "name", "slug", "description", "is_home", "tags", "url", "updated_at"]

    def get_tags(self, obj) -> list[str]:
        return obj.tag_names

    def get_url(self, obj) -> str:
        return f"/screens/{obj.slug}/"

    def get_updated_at(self, obj) -> str | None:
        return iso_utc(obj.last_updated)


class ScreenDetailSerializer(ScreenSerializer):
    """One screen as the editor opens it: the sanitized drawing, its bindings and its version number."""

    bindings = serializers.JSONField()

    class Meta(ScreenSerializer.Meta):
        fields = ScreenSerializer.Meta.fields + ["sort_order", "svg", "bindings", "version"]


class ScreenSaveResultSerializer(ScreenDetailSerializer):
    """A saved screen, with what sanitizing removed from the drawing (empty when nothing)."""

    removed = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(ScreenDetailSerializer.Meta):
        fields = ScreenDetailSerializer.Meta.fields + ["removed"]


class ScreenUpdateInputSerializer(StrictInputSerializer):
    """PUT /api/screens/{slug}: any of the fields; `version` is the version the editor started from (optional:
    given, a save over someone else's newer version is refused with 409 instead of overwriting it)."""

    name = serializers.CharField(max_length=200, required=False)
    slug = serializers.RegexField(r"^[-a-zA-Z0-9_]{1,64}$", max_length=64, required=False,
                                  error_messages={"invalid": "Use letters, digits, - and _ only (at most 64)."})
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    svg = serializers.CharField(max_length=MAX_SVG_BYTES, required=False, trim_whitespace=False)
    bindings = documented_field(serializers.ListField, BINDINGS_SCHEMA, child=serializers.DictField(),
                                max_length=5000, required=False)
    is_home = serializers.BooleanField(required=False)
    sort_order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    version = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)

    def to_internal_value(self, data):
        # The views take NUL past the parser (json_nul_checked_by_view) so a refusal names its field: a drawing
        # or a binding's label with NUL is refused as such, like any other bad value in it.
        if isinstance(data, dict):
            bad = {k: ["must not contain NUL characters."] for k, v in data.items() if k in self.fields
                   and has_nul(v)}
            if bad:
                raise serializers.ValidationError(bad)
        return super().to_internal_value(data)


class ScreenInputSerializer(ScreenUpdateInputSerializer):
    """POST /api/screens: a new screen; name, slug and svg are required."""

    name = serializers.CharField(max_length=200)
    slug = serializers.RegexField(r"^[-a-zA-Z0-9_]{1,64}$", max_length=64,
                                  error_messages={"invalid": "Use letters, digits, - and _ only (at most 64)."})
    svg = serializers.CharField(max_length=MAX_SVG_BYTES, trim_whitespace=False)


class ScreenVersionSerializer(serializers.ModelSerializer):
    """One entry of a screen's history (GET /api/screens/{slug}/versions)."""

    created_at = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = ScreenVersion
        fields = ["number", "name", "created_at", "created_by", "note", "tags"]

    def get_created_at(self, obj) -> str | None:
        return iso_utc(obj.created)

    def get_tags(self, obj) -> list[str]:
        from hmi.bindings import binding_tag_names

        return binding_tag_names(obj.bindings or [])


class TagPickerItemSerializer(serializers.Serializer):
    """A tag as the screen editor's picker shows it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    machine_id = serializers.CharField()
    site_id = serializers.CharField(allow_null=True)
    member = serializers.CharField()
    datatype = serializers.CharField()
    unit = serializers.CharField()
    description = serializers.CharField()
    min_value = serializers.FloatField(allow_null=True)
    max_value = serializers.FloatField(allow_null=True)
    is_writable = serializers.BooleanField()
    is_active = serializers.BooleanField()


class TagPickerPageSerializer(serializers.Serializer):
    """One page of the tag picker: how many tags match, and this page of them."""

    count = serializers.IntegerField()
    results = TagPickerItemSerializer(many=True)
