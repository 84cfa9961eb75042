"""Choices for reports: output formats, run states and schedule frequencies (with their HMI colours)."""

from django.db import models

__all__ = ["ReportFormat", "RunStatus", "ScheduleFrequency", "RUN_STATUS_COLORS", "FINISHED_STATUSES",
           "CONTENT_TYPES"]


class ReportFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    CSV = "csv", "CSV"


CONTENT_TYPES = {ReportFormat.PDF: "application/pdf", ReportFormat.CSV: "text/csv; charset=utf-8"}


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = frozenset({RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED})
RUN_STATUS_COLORS = {RunStatus.QUEUED: "grey", RunStatus.RUNNING: "blue", RunStatus.DONE: "green",
                     RunStatus.FAILED: "red", RunStatus.CANCELLED: "grey"}


class ScheduleFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
