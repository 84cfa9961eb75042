"""Shared serializer bases for the API."""

from collections.abc import Mapping

from django.db import models
from rest_framework import serializers

from scada.api.renderers import iso_utc

__all__ = ["StrictInputSerializer", "KilnModelSerializer", "IsoUtcDateTimeField", "case_insensitive_pattern",
           "documented_field"]


def case_insensitive_pattern(words, *, anchored: bool = True) -> str:
    """An OpenAPI (ECMA 262) regex matching any of `words` in any letter case: it has no (?i) flag."""
    alternatives = "|".join("".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in w) for w in words)
    return f"^(?:{alternatives})$" if anchored else f"(?:{alternatives})"


def documented_field(field_class, schema: dict, **kwargs):
    """`field_class(**kwargs)` whose OpenAPI schema is `schema`: the rule a service enforces, stated for clients.

    For fields whose checks live in a service (so its error keeps the seed's text) but whose constraint a
    generated client must still know. A subclass, since DRF copies declared fields by class and arguments.
    """
    from drf_spectacular.utils import extend_schema_field

    documented = extend_schema_field(schema)(type(f"Documented{field_class.__name__}", (field_class,), {}))
    return documented(**kwargs)


_NUMBER_FIELDS = (serializers.IntegerField, serializers.FloatField, serializers.DecimalField)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that answers 400 on any field it does not declare.

    DRF ignores unknown keys by default; for writes that hides typos and mass-assignment attempts
    (`"is_superuser": true`, `"id": 1`) behind a 200, so Kiln's input serializers refuse them instead.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {"non_field_errors": [f"Unknown or read-only fields: {', '.join(unknown)}"]}
                )
            # DRF's CharField turns 0 into "0", its BooleanField reads 1 or "yes" as true and its FloatField
            # "1.5" or false as numbers; the schema says string, boolean, number, so another JSON type is refused.
            wrong_type = {}
            for name, field in self.fields.items():
                value = data.get(name)
                if field.read_only or value is None:
                    continue
                if isinstance(field, serializers.CharField) and isinstance(value, int | float | bool):
                    wrong_type[name] = ["Not a valid string."]
                elif isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
                    wrong_type[name] = ["Must be true or false."]
                elif isinstance(field, _NUMBER_FIELDS) and not _is_number(value):
                    wrong_type[name] = ["Must be a number."]
            if wrong_type:
                raise serializers.ValidationError(wrong_type)
        return super().to_internal_value(data)


class IsoUtcDateTimeField(serializers.DateTimeField):
    """Read-only date-times as everywhere else in the API: UTC, `Z`, milliseconds (scada.api.renderers.iso_utc).

    DRF's own field writes microseconds and the server's offset, so a user's `last_login` looked unlike every
    tag timestamp.
    """

    def to_representation(self, value):
        return iso_utc(value)


class KilnModelSerializer(serializers.ModelSerializer):
    """ModelSerializer whose DateTimeFields render with IsoUtcDateTimeField."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateTimeField: IsoUtcDateTimeField}
