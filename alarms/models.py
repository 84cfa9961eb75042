"""Alarm definitions (configuration), alarms (one runtime instance per definition and tag) and the journal.

- AlarmDefinition: what an engineer configures in Django admin, either on one tag or on a device type's member
  tag, in which case every instance of the type gets the alarm.
- Alarm: the live ISA-18.2 state of one definition on one tag. Its flags (active, acked, suppressed, shelved,
  out of service) change only through alarms.services with a conditional UPDATE on `seq`.
- AlarmEvent: the append-only journal, one row per transition (who, when, value, reason). It copies the names
  it needs, so the journal outlives the configuration it describes.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from alarms.choices import (
    ANALOG_KINDS,
    DIGITAL_KINDS,
    AlarmEventType,
    AlarmKind,
    AlarmPriority,
    AlarmState,
)
from alarms.lifecycle import _PLACEHOLDER_RE, MESSAGE_FIELDS
from scada.models import BaseModel

__all__ = ["AlarmDefinition", "Alarm", "AlarmEvent", "DEFAULT_MAX_SHELVE_SECONDS"]

DEFAULT_MAX_SHELVE_SECONDS = 8 * 3600  # one shift
KEY_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
key_validator = RegexValidator(KEY_RE, "Use lower-case letters, digits, _ and - (at most 64 characters).")


class AlarmDefinition(BaseModel):
    """An alarm as configured: the tag (or device type member) it watches, its limit, delays and handling.

    `key` is the alarm's id in the device API (seed 004 `alarmId`, e.g. `bearing_temp_high`); it is unique
    across the plant so that a device never has two alarms with the same id.
    """

    key = models.CharField(max_length=64, unique=True, validators=[key_validator],
                           help_text="Identifier used by the device API, e.g. bearing_temp_high.")
    name = models.CharField(max_length=200, help_text="Shown to operators, e.g. Bearing Temp High.")
    tag = models.ForeignKey(to="tags.Tag", on_delete=models.PROTECT, related_name="alarm_definitions",
                            null=True, blank=True, help_text="The tag watched (leave empty for a device type member).")
    device_type_tag = models.ForeignKey(
        to="tags.DeviceTypeTag", on_delete=models.PROTECT, related_name="alarm_definitions", null=True, blank=True,
        help_text="A device type's member tag: every instance of the type gets this alarm.",
    )
    kind = models.CharField(max_length=4, choices=AlarmKind.choices)
    setpoint = models.FloatField(null=True, blank=True, help_text="Limit (EU) or, for digital kinds, the value "
                                                                  "compared against (1 = true, 0 = false).")
    deadband = models.FloatField(default=0, validators=[MinValueValidator(0)],
                                 help_text="A limit alarm clears only this far (EU) back inside its limit.")
    on_delay = models.FloatField(default=0, validators=[MinValueValidator(0)],
                                 help_text="Seconds the condition must hold before the alarm activates.")
    off_delay = models.FloatField(default=0, validators=[MinValueValidator(0)],
                                  help_text="Seconds the condition must be gone before the alarm clears.")
    priority = models.CharField(max_length=8, choices=AlarmPriority.choices, default=AlarmPriority.MEDIUM)
    category = models.CharField(max_length=64, default="process", help_text="e.g. process, mechanical, safety.")
    message = models.CharField(
        max_length=500, blank=True,
        help_text="Template; placeholders: " + ", ".join("{" + f + "}" for f in MESSAGE_FIELDS)
                  + ". Blank: '{name}: {value} {unit}'.",
    )
    ack_requires_reason = models.BooleanField(default=False, help_text="An acknowledgement needs a reason code.")
    reason_codes = models.JSONField(default=list, blank=True,
                                    help_text='Allowed acknowledgement reason codes, e.g. ["checked", "maintenance"].')
    shelve_requires_reason = models.BooleanField(default=False, help_text="Shelving needs a reason.")
    max_shelve_seconds = models.PositiveIntegerField(default=DEFAULT_MAX_SHELVE_SECONDS,
                                                     validators=[MinValueValidator(1)])
    suppress_condition = models.CharField(
        max_length=1000, blank=True,
        help_text="Suppressed by design while this is true, e.g. {tags.Pump_Running} == false. On a device type "
                  "member, {tags.X} is member X of the same instance; otherwise X is a tag name.",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["key"]
        verbose_name = "alarm definition"
        constraints = [
            models.CheckConstraint(
                condition=(Q(tag__isnull=False) & Q(device_type_tag__isnull=True))
                | (Q(tag__isnull=True) & Q(device_type_tag__isnull=False)),
                name="alarmdefinition_one_target",
                violation_error_message="Choose either a tag or a device type member tag, not both.",
            ),
            models.CheckConstraint(condition=Q(deadband__gte=0), name="alarmdefinition_deadband_not_negative"),
            models.CheckConstraint(condition=Q(on_delay__gte=0) & Q(off_delay__gte=0),
                                   name="alarmdefinition_delays_not_negative"),
            models.CheckConstraint(condition=Q(max_shelve_seconds__gte=1), name="alarmdefinition_max_shelve_positive"),
        ]

    def __str__(self):
        return self.key

    def clean(self):
        from tags.expressions import ExpressionError
        from tags.expressions import compile as compile_expression

        errors = {}
        if (self.tag_id is None) == (self.device_type_tag_id is None):
            errors["tag"] = "Choose either a tag or a device type member tag, not both."
        target = self.tag if self.tag_id else (self.device_type_tag if self.device_type_tag_id else None)
        if self.kind != AlarmKind.BAD_QUALITY and self.setpoint is None:
            errors["setpoint"] = "A setpoint is needed for this kind of alarm."
        if target is not None:
            if self.kind in ANALOG_KINDS and target.datatype not in ("INT", "REAL"):
                errors["kind"] = f"A limit alarm needs an INT or REAL tag, not {target.datatype}."
            if self.kind in DIGITAL_KINDS and target.datatype not in ("BOOL", "INT"):
                errors["kind"] = f"A digital alarm needs a BOOL or INT tag, not {target.datatype}."
        if not isinstance(self.reason_codes, list) or not all(
            isinstance(c, str) and c.strip() and len(c) <= 64 for c in self.reason_codes
        ):
            errors["reason_codes"] = "A list of non-empty codes (at most 64 characters each)."
        unknown = sorted({m for m in _PLACEHOLDER_RE.findall(self.message or "")} - set(MESSAGE_FIELDS))
        if unknown:
            errors["message"] = f"Unknown placeholder(s): {', '.join(unknown)}; use {', '.join(MESSAGE_FIELDS)}."
        if self.suppress_condition.strip():
            try:
                compile_expression(self.suppress_condition, namespaces={"tags"})
            except ExpressionError as exc:
                errors["suppress_condition"] = str(exc)
        if errors:
            raise ValidationError(errors)


class Alarm(BaseModel):
    """The runtime ISA-18.2 state of one definition on one tag.

    `state` is derived from the flags (alarms.lifecycle.display_state) and stored for filtering. `seq` is the
    optimistic lock every transition updates conditionally; `gen` is the evaluation generation (from the
    runtime state in Redis) last applied, so evaluation results that arrive out of order never roll it back.
    """

    definition = models.ForeignKey(to="alarms.AlarmDefinition", on_delete=models.CASCADE, related_name="alarms")
    tag = models.ForeignKey(to="tags.Tag", on_delete=models.CASCADE, related_name="alarms")
    state = models.CharField(max_length=16, choices=AlarmState.choices, default=AlarmState.NORMAL)
    active = models.BooleanField(default=False)
    acked = models.BooleanField(default=True, help_text="False while an acknowledgement is outstanding.")
    suppressed = models.BooleanField(default=False)
    out_of_service = models.BooleanField(default=False)
    shelved_until = models.DateTimeField(null=True, blank=True)
    shelved_at = models.DateTimeField(null=True, blank=True)
    shelved_by = models.CharField(max_length=150, blank=True)
    shelve_reason = models.CharField(max_length=500, blank=True)
    oos_by = models.CharField(max_length=150, blank=True)
    oos_reason = models.CharField(max_length=500, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    acked_by = models.CharField(max_length=150, blank=True)
    ack_reason = models.CharField(max_length=500, blank=True)
    value = models.JSONField(null=True, blank=True, help_text="The value at the last transition.")
    quality = models.CharField(max_length=16, blank=True)
    message = models.CharField(max_length=500, blank=True)
    last_transition_at = models.DateTimeField(null=True, blank=True)
    gen = models.PositiveBigIntegerField(default=0)
    seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-last_transition_at", "id"]
        verbose_name = "alarm"
        constraints = [models.UniqueConstraint(fields=["definition", "tag"], name="alarm_unique_definition_tag")]
        indexes = [
            models.Index(fields=["state"], name="alarm_state"),
            models.Index(fields=["shelved_until"], name="alarm_shelved_until",
                         condition=Q(shelved_until__isnull=False)),
        ]

    def __str__(self):
        return f"{self.definition_id}@{self.tag_id}"

    @property
    def shelved(self) -> bool:
        return self.shelved_until is not None


class AlarmEvent(BaseModel):
    """One journal row per transition: what happened, when (`ts`), to which alarm, the value, who and why.

    Rows are only ever inserted. `ts` is when the transition happened (a value's timestamp, or when a delay
    ran out); `created` is when it was recorded.
    """

    alarm = models.ForeignKey(to="alarms.Alarm", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="events")
    ts = models.DateTimeField()
    event = models.CharField(max_length=24, choices=AlarmEventType.choices)
    state_before = models.CharField(max_length=16, choices=AlarmState.choices)
    state_after = models.CharField(max_length=16, choices=AlarmState.choices)
    active = models.BooleanField()
    acked = models.BooleanField()
    key = models.CharField(max_length=64)
    # The definition's name when the row was written (journals older than this column show the key).
    name = models.CharField(max_length=200, blank=True, default="")
    tag_name = models.CharField(max_length=128)
    machine_id = models.CharField(max_length=64, blank=True)
    priority = models.CharField(max_length=8, choices=AlarmPriority.choices)
    category = models.CharField(max_length=64, blank=True)
    value = models.JSONField(null=True, blank=True)
    quality = models.CharField(max_length=16, blank=True)
    message = models.CharField(max_length=500, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-ts", "-id"]
        verbose_name = "alarm event"
        indexes = [
            models.Index(fields=["ts"], name="alarmevent_ts"),
            models.Index(fields=["alarm", "ts"], name="alarmevent_alarm_ts"),
            models.Index(fields=["tag_name", "ts"], name="alarmevent_tag_ts"),
            models.Index(fields=["username", "ts"], name="alarmevent_user_ts"),
            models.Index(fields=["event", "ts"], name="alarmevent_event_ts"),
        ]

    def __str__(self):
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.key}@{self.tag_name} {self.event}"
