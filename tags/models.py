"""Sites, device types (templates), machines (device instances) and tags.

A Tag row is configuration and write tracking only. Its current value, quality and timestamp live in the
live value table in Redis (tags.live); a value change never UPDATEs this table.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from scada.extensions import extension_list
from scada.models import BaseModel
from scada.roles import Role
from tags.choices import DataType, MachineStatus

__all__ = ["Site", "DeviceType", "DeviceTypeTag", "DeviceCommand", "Machine", "Tag", "TAG_NAME_RE",
           "RESERVED_TAG_NAMES", "MAX_DECIMALS"]

TAG_NAME_RE = r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$"
RESERVED_TAG_NAMES = {"stats", "batch", "history", "write"}
SLUG_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

tag_name_validator = RegexValidator(TAG_NAME_RE, "Tag names start with a letter and use letters, digits, _ . - "
                                                 "(at most 128 characters).")
slug_validator = RegexValidator(SLUG_RE, "Use letters, digits, _ . - (at most 64 characters).")

# Display decimals: 0-6 digits after the point (a float32 carries about 7 significant digits, so more is noise).
MAX_DECIMALS = 6
DECIMALS_HELP = ("Digits shown after the decimal point wherever this tag's value is displayed (HMI, faceplates, "
                 "alarms, trends, admin, reports); blank: chosen from the value's size.")


def decimals_field():
    return models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(MAX_DECIMALS)],
                                            help_text=DECIMALS_HELP)


class Site(BaseModel):
    """A plant or site; seed 004's `siteId`."""

    site_id = models.CharField(max_length=64, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["site_id"]
        verbose_name = "site"

    def __str__(self):
        return self.site_id


class DeviceType(BaseModel):
    """A typed device template (e.g. `pump.centrifugal` 1.2.0): member tags, commands and their rules."""

    type_id = models.CharField(max_length=128, validators=[slug_validator])
    version = models.CharField(max_length=32, default="1.0.0")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status_expression = models.CharField(
        max_length=500, blank=True,
        help_text="Optional expression for the instance status, e.g. {tags.Faulted} ? 'faulted' : ... "
                  "(left blank: running/stopped/faulted from the Running and Faulted members).",
    )

    class Meta:
        ordering = ["type_id", "version"]
        verbose_name = "device type"
        constraints = [models.UniqueConstraint(fields=["type_id", "version"], name="devicetype_unique_version")]

    def __str__(self):
        return f"{self.type_id} {self.version}"


class DeviceTypeTag(BaseModel):
    """A member tag of a device type; each instance gets a Tag `<machine_id>.<member>` made from it."""

    device_type = models.ForeignKey(to="tags.DeviceType", on_delete=models.CASCADE, related_name="member_tags")
    member = models.CharField(max_length=64, validators=[slug_validator])
    datatype = models.CharField(max_length=8, choices=DataType.choices, default=DataType.REAL)
    description = models.CharField(max_length=500, blank=True)
    unit = models.CharField(max_length=32, blank=True)
    decimals = decimals_field()
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    is_writable = models.BooleanField(default=False)
    write_role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.SUPERVISOR)
    requires_signature = models.BooleanField(default=False)
    deadband = models.FloatField(default=0)

    class Meta:
        ordering = ["device_type", "member"]
        verbose_name = "device type member tag"
        constraints = [
            models.UniqueConstraint(fields=["device_type", "member"], name="devicetypetag_unique_member"),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lt=models.F("max_value")),
                name="devicetypetag_min_lt_max",
            ),
            models.CheckConstraint(condition=Q(decimals__lte=MAX_DECIMALS), name="devicetypetag_decimals_max"),
        ]

    def __str__(self):
        return f"{self.device_type.type_id}.{self.member}"


class DeviceCommand(BaseModel):
    """An operator command of a device type (seed 004): parameters, preconditions, actions.

    - parameters: {"speed": {"type": "REAL", "min": 0, "max": 3000, "required": true}}
    - preconditions: [{"condition": "!{tags.Running}", "reason": "Pump is already running"}]
    - actions: [{"write": "SpeedSetpoint", "value": "{params.speed}"}, {"write": "Start", "value": true}]
    Expressions are evaluated by tags.expressions (a real parser; never eval).
    """

    device_type = models.ForeignKey(to="tags.DeviceType", on_delete=models.CASCADE, related_name="commands")
    command_id = models.CharField(max_length=64, validators=[slug_validator])
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    min_role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.OPERATOR)
    parameters = models.JSONField(default=dict, blank=True)
    preconditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["device_type", "command_id"]
        verbose_name = "device command"
        constraints = [models.UniqueConstraint(fields=["device_type", "command_id"], name="devicecommand_unique_id")]

    def __str__(self):
        return f"{self.device_type.type_id}:{self.command_id}"


class Machine(BaseModel):
    """A machine or device instance (seed 003 `machine_id`, seed 004 `deviceId`), optionally of a DeviceType."""

    machine_id = models.CharField(max_length=64, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200, blank=True)
    site = models.ForeignKey(to="tags.Site", on_delete=models.PROTECT, related_name="machines", null=True, blank=True)
    device_type = models.ForeignKey(to="tags.DeviceType", on_delete=models.PROTECT, related_name="instances",
                                    null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    process_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=MachineStatus.choices, default=MachineStatus.UNKNOWN)

    class Meta:
        ordering = ["machine_id"]
        verbose_name = "machine"

    def __str__(self):
        return self.machine_id


class Tag(BaseModel):
    """A tag (seed 003 Tag Data Model): configuration, limits, who may write it, and write tracking.

    `name` is unique across the plant. Device member tags are named `<machine_id>.<member>` and carry `member`.
    """

    machine = models.ForeignKey(to="tags.Machine", on_delete=models.PROTECT, related_name="tags")
    name = models.CharField(max_length=128, unique=True, validators=[tag_name_validator])
    member = models.CharField(max_length=64, blank=True, help_text="Member name within a device instance.")
    datatype = models.CharField(max_length=8, choices=DataType.choices)
    description = models.CharField(max_length=500, blank=True)
    unit = models.CharField(max_length=32, blank=True)
    decimals = decimals_field()
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    deadband = models.FloatField(default=0, help_text="Changes smaller than this (EU) are not recorded.")
    is_writable = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    write_role = models.PositiveSmallIntegerField(
        choices=Role.choices, default=Role.SUPERVISOR, help_text="Lowest role allowed to write this tag."
    )
    requires_signature = models.BooleanField(default=False, help_text="Writes need an e-signature (21 CFR Part 11).")
    last_write_by = models.CharField(max_length=150, null=True, blank=True)
    last_write_at = models.DateTimeField(null=True, blank=True, db_index=True)
    write_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = "tag"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lt=models.F("max_value")),
                name="tag_min_lt_max",
            ),
            models.CheckConstraint(condition=Q(deadband__gte=0), name="tag_deadband_not_negative"),
            models.CheckConstraint(condition=Q(decimals__lte=MAX_DECIMALS), name="tag_decimals_max"),
        ]
        indexes = [models.Index(fields=["machine", "member"], name="tag_machine_member")]

    def __str__(self):
        return self.name

    def clean(self):
        if self.name and self.name.lower() in RESERVED_TAG_NAMES:
            raise ValidationError({"name": f"'{self.name}' is a reserved name"})
        if self.min_value is not None and self.max_value is not None and self.min_value >= self.max_value:
            raise ValidationError({"min_value": "min_value must be less than max_value"})
        if self.datatype in (DataType.BOOL, DataType.STRING) and (
                self.min_value is not None or self.max_value is not None):
            # A limit the write check would never apply must not look as if it protected the tag.
            raise ValidationError({"min_value": f"{self.datatype} tags have no limits: min_value and max_value "
                                                f"apply to INT and REAL tags"})
        # Other apps' checks (a driver binding the new datatype no longer fits), in settings.KILN_TAG_VALIDATORS order.
        for _path, validate in extension_list("KILN_TAG_VALIDATORS"):
            validate(self)
