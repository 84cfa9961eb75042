"""Shared serializer bases for the API."""

from collections.abc import Mapping

from django.db import models
from rest_framework import serializers

from scada.api.renderers import iso_utc

__all__ = ["StrictInputSerializer", "KilnModelSerializer", "IsoUtcDateTimeField"]


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
