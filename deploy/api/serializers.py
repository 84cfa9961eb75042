"""Input serializers of the configuration API (validation only)."""

from rest_framework import serializers

from deploy.bundle import bundle_schema
from scada.api.serializers import StrictInputSerializer, documented_field

__all__ = ["ConfigImportInputSerializer", "ConfigCsvImportInputSerializer"]


class ConfigImportInputSerializer(StrictInputSerializer):
    # The schema states the bundle's shape (field types, ranges, choices); rules between items and sections
    # (references, overlaps, min < max) are the import's 422.
    bundle = documented_field(serializers.DictField,
                              {k: v for k, v in bundle_schema().items() if k not in ("$schema", "title")},
                              help_text="A bundle as GET /api/config/export answers it (format kiln-config).")
    dry_run = serializers.BooleanField(default=False, help_text="Answer the diff only; change nothing.")
    reason = serializers.CharField(default="", allow_blank=True, max_length=1000,
                                   help_text="Recorded with every change in the audit trail.")


class ConfigCsvImportInputSerializer(StrictInputSerializer):
    csv = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                help_text="The CSV text: a header row of field names (the key column needed), then "
                                          "one row per item.")
    dry_run = serializers.BooleanField(default=False, help_text="Answer the diff only; change nothing.")
    remove_missing = serializers.BooleanField(default=False, help_text="Remove items that have no row (the CSV "
                                                                       "is then the whole section).")
    reason = serializers.CharField(default="", allow_blank=True, max_length=1000)
