"""Batch API serializers: input validation for the actions, and the output shapes (for the schema).

Inputs are StrictInputSerializers (unknown fields are a 400); their values are checked again by the services,
which own the messages (the parameter named in a 422, the signature's texts shared with tag writes).
"""

from rest_framework import serializers

from batches.choices import BatchStatus, DeviationSeverity, RecipeStatus
from scada.api.serializers import StrictInputSerializer, documented_field

__all__ = ["RecipeSerializer",
           "BatchSummarySerializer", "BatchRecordSerializer", "BatchStartInputSerializer", "SignatureInputSerializer",
           "BatchCloseInputSerializer", "BatchAbortInputSerializer", "BatchCommentInputSerializer",
           "BatchDeviationInputSerializer", "PhaseEnterInputSerializer", "PhaseSignInputSerializer",
           "PhaseConfirmInputSerializer"]


class RecipeSerializer(serializers.Serializer):
    """A recipe version (batches.selectors.recipe_dict): definition, status and approval signature."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    status = serializers.ChoiceField(choices=RecipeStatus.choices)
    machines = serializers.ListField(child=serializers.CharField())
    recorded_tags = serializers.ListField(child=serializers.CharField())
    requires_verification = serializers.BooleanField()
    parameters = serializers.ListField(child=serializers.DictField())
    phases = serializers.ListField(child=serializers.DictField())
    approved_at = serializers.CharField(allow_null=True)
    retired_at = serializers.CharField(allow_null=True)
    approval = serializers.DictField(allow_null=True, help_text="printed_name, signed_at (UTC), meaning, valid.")


class BatchSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lot = serializers.CharField()
    recipe = serializers.CharField()
    recipe_version = serializers.IntegerField()
    machine = serializers.CharField()
    status = serializers.ChoiceField(choices=BatchStatus.choices)
    started_by = serializers.CharField()
    started_at = serializers.CharField()
    completed_at = serializers.CharField(allow_null=True)
    aborted_at = serializers.CharField(allow_null=True)
    closed_at = serializers.CharField(allow_null=True)
    current_phase = serializers.IntegerField(allow_null=True)


class BatchRecordSerializer(serializers.Serializer):
    """The electronic batch record (batches.ebr.batch_ebr): its fields are documented in docs/batches.md."""

    id = serializers.IntegerField()
    lot = serializers.CharField()
    status = serializers.ChoiceField(choices=BatchStatus.choices)
    recipe = serializers.DictField()
    machine = serializers.CharField()
    started_by = serializers.CharField()
    started_at = serializers.CharField()
    completed_at = serializers.CharField(allow_null=True)
    aborted_at = serializers.CharField(allow_null=True)
    abort_reason = serializers.CharField(allow_null=True)
    closed_at = serializers.CharField(allow_null=True)
    current_phase = serializers.IntegerField(allow_null=True)
    requires_verification = serializers.BooleanField()
    parameters = serializers.ListField(child=serializers.DictField())
    phases = serializers.ListField(child=serializers.DictField())
    comments = serializers.ListField(child=serializers.DictField())
    deviations = serializers.ListField(child=serializers.DictField())
    evidence = serializers.DictField(help_text="tag_writes, device_commands, alarms, recorded_tags, window.")
    signatures = serializers.ListField(child=serializers.DictField(),
                                       help_text="printed_name, signed_at (UTC), meaning, reason, kind, valid.")
    record_hash = serializers.CharField()
    signed_hash = serializers.CharField(allow_null=True)
    record_unchanged_since_signing = serializers.BooleanField(allow_null=True)


class SignatureInputSerializer(serializers.Serializer):
    """The same signature object as e-signed tag writes."""

    password = serializers.CharField()
    meaning = serializers.CharField()
    reason = serializers.CharField()


# Values are taken as JSON and checked by the services (their messages name the field); the schema states the
# types a client must send.
# No text may hold NUL (PostgreSQL text cannot): stated as a pattern, so generated clients and fuzzers know it.
_NO_NUL = "^[^\\u0000]*$"
_TEXT = {"type": "string", "minLength": 1, "pattern": _NO_NUL}
_SIGNATURE = {"type": "object", "required": ["password", "meaning", "reason"], "additionalProperties": False,
              "properties": {"password": _TEXT, "meaning": _TEXT, "reason": _TEXT}}
_POSITION = {"type": "integer", "minimum": 0}


class BatchStartInputSerializer(StrictInputSerializer):
    recipe = documented_field(serializers.JSONField, {"oneOf": [_TEXT,
                                                                {"type": "integer", "minimum": 1}]},
                              help_text="A recipe name (its newest approved version) or a recipe id.")
    machine_id = documented_field(serializers.JSONField, _TEXT)
    lot = documented_field(serializers.JSONField, {**_TEXT, "maxLength": 64})
    parameters = documented_field(serializers.JSONField, {"type": "object", "additionalProperties": {
        "oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string", "pattern": _NO_NUL}]}},
                                  required=False, help_text="{name: value}; defaults fill the rest.")


class BatchCloseInputSerializer(StrictInputSerializer):
    signature = documented_field(serializers.JSONField, _SIGNATURE,
                                 help_text="The same signature object as e-signed tag writes.")


class BatchAbortInputSerializer(StrictInputSerializer):
    reason = documented_field(serializers.JSONField, _TEXT)


class BatchCommentInputSerializer(StrictInputSerializer):
    text = documented_field(serializers.JSONField, _TEXT)
    phase = documented_field(serializers.JSONField, _POSITION, required=False,
                             help_text="The phase position it concerns.")


class BatchDeviationInputSerializer(StrictInputSerializer):
    description = documented_field(serializers.JSONField, _TEXT)
    severity = serializers.ChoiceField(choices=DeviationSeverity.choices, required=False)
    phase = documented_field(serializers.JSONField, _POSITION, required=False)


class PhaseConfirmInputSerializer(StrictInputSerializer):
    pass


class PhaseEnterInputSerializer(StrictInputSerializer):
    value = documented_field(serializers.JSONField, {"type": "number"})


class PhaseSignInputSerializer(StrictInputSerializer):
    signature = documented_field(serializers.JSONField, _SIGNATURE)
