"""Django admin: report definitions (Engineer+, audited), runs (read-only)."""

from django import forms
from django.contrib import admin
from django.core.validators import validate_email
from django.utils import timezone

from accounts.admin_base import AuditedModelAdmin
from reports.choices import ScheduleFrequency
from reports.kinds import kinds
from reports.models import ReportDefinition, ReportRun, ReportSchedule
from reports.schedules import schedule_next_run, schedule_recipients
from scada.admin import ReadOnlyModelAdmin
from scada.errors import KilnError

DEFINITION_FIELDS = ["slug", "title", "kind", "description", "defaults", "min_role", "page_size", "enabled", "logo"]


class ReportDefinitionForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=())

    class Meta:
        model = ReportDefinition
        fields = [*DEFINITION_FIELDS, "tags"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(name, kind.title) for name, kind in kinds().items()]

    def clean(self):
        data = super().clean()
        kind = kinds().get(data.get("kind"))
        defaults = data.get("defaults")
        if kind is None or not isinstance(defaults, dict):
            if defaults is not None and not isinstance(defaults, dict):
                self.add_error("defaults", "Expected a JSON object: parameter name → default")
            return data
        # The defaults must be what a request could send; the tags they name are checked at run time.
        names = {p.name for p in kind.parameters}
        unknown = sorted(set(defaults) - names)
        if unknown:
            self.add_error("defaults", f"Unknown parameter(s) {', '.join(unknown)}; {kind.name} takes "
                                       f"{', '.join(sorted(names))}")
            return data
        for p in kind.parameters:
            if p.name in defaults and defaults[p.name] not in (None, "", []):
                try:
                    p.clean(defaults[p.name], now=timezone.now())
                except ValueError as exc:
                    self.add_error("defaults", f"{p.name}: {exc}")
        return data


@admin.register(ReportDefinition)
class ReportDefinitionAdmin(AuditedModelAdmin):
    form = ReportDefinitionForm
    audit_object_type = "report_definition"
    list_display = ["slug", "title", "kind", "min_role", "page_size", "enabled"]
    list_filter = ["kind", "enabled", "min_role"]
    search_fields = ["slug", "title"]
    filter_horizontal = ["tags"]

    def audit_id(self, obj) -> str:
        return obj.slug


@admin.register(ReportRun)
class ReportRunAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "definition", "format", "status", "progress", "username", "schedule", "created",
                    "finished_at", "rows", "size"]
    list_filter = ["status", "format", "definition"]
    search_fields = ["username", "definition__slug", "sha256"]
    date_hierarchy = "created"



class ReportScheduleForm(forms.ModelForm):
    class Meta:
        model = ReportSchedule
        fields = ["name", "definition", "format", "parameters", "frequency", "time_of_day", "weekday",
                  "day_of_month", "email_to", "enabled"]

    def clean(self):
        data = super().clean()
        frequency = data.get("frequency")
        if frequency == ScheduleFrequency.WEEKLY and data.get("weekday") is None:
            self.add_error("weekday", "A weekly schedule needs a weekday (0 = Monday … 6 = Sunday)")
        if frequency == ScheduleFrequency.MONTHLY and data.get("day_of_month") is None:
            self.add_error("day_of_month", "A monthly schedule needs a day of the month (1-28)")
        for address in schedule_recipients(ReportSchedule(email_to=data.get("email_to") or "")):
            try:
                validate_email(address)
            except forms.ValidationError:
                self.add_error("email_to", f"Not an e-mail address: {address}")
        definition = data.get("definition")
        kind = kinds().get(definition.kind) if definition else None
        if kind is not None:
            if data.get("format") not in kind.formats:
                self.add_error("format", f"{kind.name} is made as {', '.join(kind.formats)}")
            # The parameters must be what a request could send, checked as a run would check them now.
            try:
                kind.clean(definition, data.get("parameters"), now=timezone.now())
            except KilnError as exc:
                self.add_error("parameters", exc.detail)
        return data


@admin.register(ReportSchedule)
class ReportScheduleAdmin(AuditedModelAdmin):
    form = ReportScheduleForm
    audit_object_type = "report_schedule"
    list_display = ["name", "definition", "format", "frequency", "time_of_day", "email_to", "enabled",
                    "next_run_at", "last_run_at"]
    list_filter = ["frequency", "format", "enabled"]
    search_fields = ["name", "definition__slug", "email_to"]
    readonly_fields = ["next_run_at", "last_run_at"]

    def save_model(self, request, obj, form, change):
        # The next due time follows the saved settings (in the plant's time zone); the change and its audit
        # record commit together (AuditedModelAdmin).
        obj.next_run_at = schedule_next_run(obj, after=timezone.now())
        super().save_model(request, obj, form, change)
