"""Alarm API serializers: input validation for the actions, and the output shapes (for the schema)."""

from rest_framework import serializers

from alarms.choices import AlarmEventType, AlarmKind, AlarmPriority, AlarmState
from alarms.selectors import alarm_event_dict, alarm_summary
from scada.api.serializers import StrictInputSerializer

__all__ = [
    "AlarmSerializer", "AlarmEventSerializer", "AlarmAckInputSerializer", "AlarmShelveInputSerializer",
    "AlarmReasonInputSerializer", "AlarmRequiredReasonInputSerializer", "DeviceAlarmSerializer",
    "DeviceAlarmAckInputSerializer", "DeviceAlarmAckSerializer", "AlarmKpiQuerySerializer",
]


class AlarmSerializer(serializers.Serializer):
    """One alarm. Rendered by alarms.selectors.alarm_summary, which the WebSocket push shares."""

    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    tag = serializers.CharField()
    machine = serializers.CharField()
    kind = serializers.ChoiceField(choices=AlarmKind.choices)
    priority = serializers.ChoiceField(choices=AlarmPriority.choices)
    category = serializers.CharField()
    state = serializers.ChoiceField(choices=AlarmState.choices)
    active = serializers.BooleanField()
    acknowledged = serializers.BooleanField()
    suppressed = serializers.BooleanField()
    shelved = serializers.BooleanField()
    out_of_service = serializers.BooleanField()
    message = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    quality = serializers.CharField(allow_null=True)
    setpoint = serializers.FloatField(allow_null=True)
    unit = serializers.CharField(help_text="The tag's engineering unit")
    decimals = serializers.IntegerField(allow_null=True, help_text="The tag's display decimals (null: automatic)")
    activated_at = serializers.CharField(allow_null=True)
    cleared_at = serializers.CharField(allow_null=True)
    acked_at = serializers.CharField(allow_null=True)
    acked_by = serializers.CharField(allow_null=True)
    ack_reason = serializers.CharField(allow_null=True)
    shelved_at = serializers.CharField(allow_null=True)
    shelved_until = serializers.CharField(allow_null=True)
    shelved_by = serializers.CharField(allow_null=True)
    shelve_reason = serializers.CharField(allow_null=True)
    last_transition_at = serializers.CharField(allow_null=True)
    ack_requires_reason = serializers.BooleanField()
    reason_codes = serializers.ListField(child=serializers.CharField())
    shelve_requires_reason = serializers.BooleanField()
    seq = serializers.IntegerField(help_text="Increases with every change of this alarm (ignore older pushes).")

    def to_representation(self, instance):
        return alarm_summary(instance)


class AlarmEventSerializer(serializers.Serializer):
    """One journal row."""

    id = serializers.IntegerField()
    alarm_id = serializers.IntegerField(allow_null=True)
    ts = serializers.CharField()
    event = serializers.ChoiceField(choices=AlarmEventType.choices)
    state_before = serializers.CharField(help_text="The state before this event (same values as `state`).")
    state = serializers.ChoiceField(choices=AlarmState.choices)
    active = serializers.BooleanField()
    acknowledged = serializers.BooleanField()
    key = serializers.CharField()
    name = serializers.CharField(help_text="The alarm's name when this row was written (the key for older rows).")
    tag = serializers.CharField()
    machine = serializers.CharField()
    priority = serializers.ChoiceField(choices=AlarmPriority.choices)
    category = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    value_text = serializers.CharField(required=False, allow_null=True,
                                       help_text="formatted=true: the value as the HMI shows it (the tag's decimals)")
    quality = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    user = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    recorded_at = serializers.CharField()

    def to_representation(self, instance):
        return alarm_event_dict(instance)


class AlarmAckInputSerializer(StrictInputSerializer):
    reason_code = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=400, default="")


class AlarmShelveInputSerializer(StrictInputSerializer):
    duration = serializers.IntegerField(min_value=1, help_text="Seconds; at most the definition's maximum.",
                                        error_messages={"required": "duration is required (seconds)."})
    # Required only where the alarm's definition says so (shelve_requires_reason); the service decides.
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class AlarmReasonInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class AlarmRequiredReasonInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=500, error_messages={
        "required": "A reason is required.", "blank": "A reason is required."})


class AlarmKpiQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)


class DeviceAlarmSerializer(serializers.Serializer):
    """Seed 004 alarm of a device; `id` is the alarm definition's key."""

    id = serializers.CharField()
    name = serializers.CharField()
    priority = serializers.ChoiceField(choices=AlarmPriority.choices)
    category = serializers.CharField()
    activatedAt = serializers.CharField(allow_null=True)  # noqa: N815 (seed 004 spelling)
    acknowledged = serializers.BooleanField()
    message = serializers.CharField()


class DeviceAlarmAckInputSerializer(StrictInputSerializer):
    """Seed 004 sends no body; a reason code may be given where the alarm's definition asks for one."""

    reason_code = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=400, default="")


class DeviceAlarmAckSerializer(serializers.Serializer):
    id = serializers.CharField()
    acknowledged = serializers.BooleanField()
    acknowledgedBy = serializers.CharField()  # noqa: N815
    acknowledgedAt = serializers.CharField()  # noqa: N815
