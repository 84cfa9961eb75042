"""Input serializers of the configuration API (validation only)."""

from rest_framework import serializers

from deploy.bundle import bundle_schema
from scada.api.serializers import StrictInputSerializer, documented_field

__all__ = ["ConfigImportInputSerializer", "ConfigCsvImportInputSerializer", "DeployInputSerializer",
           "DeployReceiveInputSerializer", "DeployRollbackInputSerializer"]


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


SIGNATURE_HELP = "E-signature of the person deploying: {password, meaning, reason} (21 CFR Part 11)."
SignatureField = documented_field(serializers.DictField, {
    "type": "object", "properties": {"password": {"type": "string"}, "meaning": {"type": "string"},
                                     "reason": {"type": "string"}}}, required=False, help_text=SIGNATURE_HELP)


class DeployInputSerializer(StrictInputSerializer):
    dry_run = serializers.BooleanField(default=False, help_text="Answer production's diff only.")
    signature = SignatureField
    comment = serializers.CharField(default="", allow_blank=True, max_length=1000)
    base_version = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2_147_483_647,
                                            help_text="The production version the dry run showed (default: the "
                                                      "version this instance last deployed).")


class DeployReceiveInputSerializer(StrictInputSerializer):
    bundle = documented_field(serializers.DictField,
                              {k: v for k, v in bundle_schema().items() if k not in ("$schema", "title")})
    dry_run = serializers.BooleanField(default=False)
    base_version = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2_147_483_647)
    comment = serializers.CharField(default="", allow_blank=True, max_length=1000)
    deployed_by = serializers.CharField(default="", allow_blank=True, max_length=150)
    source = serializers.CharField(default="", allow_blank=True, max_length=200)
    signature = serializers.DictField(required=False, default=dict,
                                      help_text="The deployer's signature as the test instance recorded it.")


class DeployRollbackInputSerializer(StrictInputSerializer):
    version = serializers.IntegerField(min_value=1, max_value=2_147_483_647)
    signature = documented_field(serializers.DictField, {
        "type": "object", "properties": {"password": {"type": "string"}, "meaning": {"type": "string"},
                                         "reason": {"type": "string"}}}, help_text=SIGNATURE_HELP)
    comment = serializers.CharField(default="", allow_blank=True, max_length=1000)
