"""Django admin: report definitions (Engineer+, audited), runs (read-only)."""

from django import forms
from django.contrib import admin
from django.utils import timezone

from accounts.admin_base import AuditedModelAdmin
from reports.kinds import kinds
from reports.models import ReportDefinition, ReportRun
from scada.admin import ReadOnlyModelAdmin

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

