"""Choices for recipes and batches (ISA-88-lite), with the HMI colours next to them."""

from django.db import models

__all__ = ["RecipeStatus", "BatchStatus", "PhaseRequirement", "PhaseStatus", "DeviationSeverity",
           "ParameterType", "BATCH_STATUS_COLORS"]


class RecipeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


class BatchStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete (awaiting review)"
    CLOSED = "closed", "Closed"
    ABORTED = "aborted", "Aborted"


BATCH_STATUS_COLORS = {"running": "#1565c0", "complete": "#f9a825", "closed": "#2e7d32", "aborted": "#c62828"}


class PhaseRequirement(models.TextChoices):
    NONE = "none", "Nothing (advance)"
    CONFIRM = "confirm", "Confirmation"
    VALUE = "value", "Entered value"
    SIGNATURE = "signature", "E-signature"


class PhaseStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Not reached (batch aborted)"


class DeviationSeverity(models.TextChoices):
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


class ParameterType(models.TextChoices):
    # The tag datatypes a parameter may carry (a parameter with a target tag must match the tag's).
    BOOL = "BOOL", "BOOL"
    INT = "INT", "INT"
    REAL = "REAL", "REAL"
    STRING = "STRING", "STRING"
