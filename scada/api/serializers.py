"""Shared serializer bases for the API."""

from collections.abc import Mapping

from rest_framework import serializers

__all__ = ["StrictInputSerializer"]


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
