"""Choices for alarms. Their HMI colours live in one place, the HMI stylesheet (ISA-101: colour means alarm).

The state names follow ISA-18.2 / IEC 62682: normal, active unacknowledged, active acknowledged, returned to
normal unacknowledged, shelved, suppressed by design and out of service.
"""

from django.db import models

__all__ = [
    "AlarmKind", "AlarmPriority", "AlarmState", "AlarmEventType",
    "ANNUNCIATED_STATES", "ANALOG_KINDS", "DIGITAL_KINDS", "PRIORITY_RANK",
]


class AlarmKind(models.TextChoices):
    HIHI = "HIHI", "High-high limit"
    HI = "HI", "High limit"
    LO = "LO", "Low limit"
    LOLO = "LOLO", "Low-low limit"
    EQUAL = "EQ", "Digital: value equals setpoint"
    NOT_EQUAL = "NE", "Digital: value differs from setpoint"
    BAD_QUALITY = "BAD", "BAD quality"


ANALOG_KINDS = frozenset({AlarmKind.HIHI, AlarmKind.HI, AlarmKind.LO, AlarmKind.LOLO})
DIGITAL_KINDS = frozenset({AlarmKind.EQUAL, AlarmKind.NOT_EQUAL})


class AlarmPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


# Sorting by priority (critical first) without relying on the alphabet.
PRIORITY_RANK = {AlarmPriority.CRITICAL: 4, AlarmPriority.HIGH: 3, AlarmPriority.MEDIUM: 2, AlarmPriority.LOW: 1}


class AlarmState(models.TextChoices):
    NORMAL = "normal", "Normal"
    ACTIVE_UNACKED = "active_unacked", "Active, unacknowledged"
    ACTIVE_ACKED = "active_acked", "Active, acknowledged"
    RTN_UNACKED = "rtn_unacked", "Returned to normal, unacknowledged"
    SHELVED = "shelved", "Shelved"
    SUPPRESSED = "suppressed", "Suppressed by design"
    OUT_OF_SERVICE = "out_of_service", "Out of service"


# What the operator sees in the alarm list and banner; shelved, suppressed and out-of-service alarms are still
# evaluated and journaled, but not annunciated.
ANNUNCIATED_STATES = (AlarmState.ACTIVE_UNACKED, AlarmState.ACTIVE_ACKED, AlarmState.RTN_UNACKED)


class AlarmEventType(models.TextChoices):
    ACTIVATED = "activated", "Activated"
    CLEARED = "cleared", "Returned to normal"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SHELVED = "shelved", "Shelved"
    UNSHELVED = "unshelved", "Unshelved"
    SHELVE_EXPIRED = "shelve_expired", "Shelving expired"
    SUPPRESSED = "suppressed", "Suppressed by design"
    UNSUPPRESSED = "unsuppressed", "No longer suppressed"
    REMOVED_FROM_SERVICE = "removed_from_service", "Removed from service"
    RETURNED_TO_SERVICE = "returned_to_service", "Returned to service"
