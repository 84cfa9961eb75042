"""Choices for tags and devices, with the HMI colours next to them (templates never hard-code colours)."""

from django.db import models


class DataType(models.TextChoices):
    BOOL = "BOOL", "BOOL"
    INT = "INT", "INT"
    REAL = "REAL", "REAL"
    STRING = "STRING", "STRING"


class Quality(models.TextChoices):
    GOOD = "GOOD", "GOOD"
    UNCERTAIN = "UNCERTAIN", "UNCERTAIN"
    BAD = "BAD", "BAD"


QUALITY_COLORS = {"GOOD": "#2e7d32", "UNCERTAIN": "#f9a825", "BAD": "#c62828", None: "#757575"}

# Sub-statuses that may accompany a quality (design: "a sub-status may follow in its own field").
# data_lost: values a driver read but could not deliver (Redis down longer than its outbox holds).
SUBSTATUSES = ["comm_failure", "config_error", "out_of_range", "stale", "sensor_failure", "manual", "initial",
               "data_lost"]


class MachineStatus(models.TextChoices):
    RUNNING = "running", "running"
    STOPPED = "stopped", "stopped"
    FAULTED = "faulted", "faulted"
    UNKNOWN = "unknown", "unknown"
