"""Reports: the definitions users may run, each run (its progress and its file), and schedules.

A definition names a report kind (the Python code that gathers and lays out the data, reports.kinds) plus what
an engineer configures without code: title, tags, default parameters, logo, page size and who may run it.
A run is one generation: queued → running → done | failed | cancelled, with its progress in the database (the
HMI and the API poll it), and, when done, a file under KILN_REPORTS_DIR with its SHA-256.
"""

from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models

from reports.choices import ReportFormat, RunStatus, ScheduleFrequency
from scada.models import BaseModel
from scada.roles import Role

__all__ = ["PageSize", "ReportDefinition", "ReportRun", "ReportSchedule"]


class PageSize(models.TextChoices):
    A4 = "A4", "A4"
    LETTER = "Letter", "Letter"


class ReportDefinition(BaseModel):
    """A report users can run: a kind (built-in code) with its engineer-set title, tags and defaults."""

    slug = models.SlugField(max_length=64, unique=True, help_text="Stable id used by the API: /api/reports/<slug>")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=64, help_text="The code that builds it (KILN_REPORT_KINDS)")
    description = models.TextField(blank=True)
    defaults = models.JSONField(default=dict, blank=True,
                                help_text='Parameter defaults, e.g. {"hours": 8, "interval": 300}')
    tags = models.ManyToManyField(to="tags.Tag", blank=True, related_name="report_definitions",
                                  help_text="Tags the report shows when the caller names none")
    min_role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.OPERATOR,
                                                help_text="Least role that may run it and see its files")
    logo = models.FileField(upload_to="reports/logos/", blank=True,
                            validators=[FileExtensionValidator(["png", "jpg", "jpeg", "svg"])])
    page_size = models.CharField(max_length=8, choices=PageSize.choices, default=PageSize.A4)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["title", "slug"]
        verbose_name = "report definition"

    def __str__(self):
        return f"{self.title} ({self.slug})"


class ReportRun(BaseModel):
    """One generation of a report: who asked, with what parameters, how far it got, and the file it made."""

    definition = models.ForeignKey(to="reports.ReportDefinition", on_delete=models.PROTECT, related_name="runs")
    schedule = models.ForeignKey(to="reports.ReportSchedule", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="runs")
    # A run outlives its user's account: the name stays for the list and the audit trail.
    user = models.ForeignKey(to="accounts.User", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="report_runs")
    username = models.CharField(max_length=150, blank=True)
    format = models.CharField(max_length=8, choices=ReportFormat.choices)
    parameters = models.JSONField(default=dict, blank=True, help_text="As resolved when the run was asked for")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    message = models.TextField(blank=True, help_text="What failed, or why it was cancelled")
    cancel_requested = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_path = models.CharField(max_length=500, blank=True, help_text="Relative to KILN_REPORTS_DIR")
    file_name = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    rows = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "report run"
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="reports_run_progress_lte_100"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.definition.slug} {self.format} {self.status}"


class ReportSchedule(BaseModel):
    """A report run by beat at a time of day in the plant's time zone, stored and optionally e-mailed."""

    name = models.CharField(max_length=200)
    definition = models.ForeignKey(to="reports.ReportDefinition", on_delete=models.PROTECT,
                                   related_name="schedules")
    format = models.CharField(max_length=8, choices=ReportFormat.choices, default=ReportFormat.PDF)
    parameters = models.JSONField(default=dict, blank=True,
                                  help_text='Relative times resolve at run time, e.g. {"start": "now-24h"}')
    frequency = models.CharField(max_length=16, choices=ScheduleFrequency.choices, default=ScheduleFrequency.DAILY)
    time_of_day = models.TimeField(help_text="In the plant's time zone (KILN_PLANT_TIME_ZONE)")
    weekday = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(6)],
                                               help_text="Weekly: 0 = Monday … 6 = Sunday")
    day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text="Monthly: 1-28 (every month has it)")
    email_to = models.TextField(blank=True, help_text="Comma-separated addresses; empty: stored only")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "report schedule"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(frequency=ScheduleFrequency.WEEKLY) | models.Q(weekday__isnull=False),
                name="reports_schedule_weekly_has_weekday"),
            models.CheckConstraint(
                condition=~models.Q(frequency=ScheduleFrequency.MONTHLY) | models.Q(day_of_month__isnull=False),
                name="reports_schedule_monthly_has_day"),
        ]

    def __str__(self):
        return self.name
