"""Django admin: alarm definitions (Engineer+), alarms (read-only, with out-of-service actions), the journal."""

from django.contrib import admin, messages
from django.db import transaction

from accounts.admin_base import AuditedModelAdmin
from alarms import services
from alarms.models import Alarm, AlarmDefinition, AlarmEvent
from scada.admin import ReadOnlyModelAdmin
from scada.errors import KilnError

CONFIG_FIELDS = ["key", "name", "tag", "device_type_tag", "kind", "setpoint", "deadband", "on_delay", "off_delay",
                 "priority", "category", "message", "ack_requires_reason", "reason_codes", "max_shelve_seconds",
                 "suppress_condition", "enabled", "shelve_requires_reason"]


@admin.register(AlarmDefinition)
class AlarmDefinitionAdmin(AuditedModelAdmin):
    audit_object_type = "alarm_definition"
    audit_fields = CONFIG_FIELDS
    list_display = ["key", "name", "tag", "device_type_tag", "kind", "setpoint", "priority", "category", "enabled"]
    list_filter = ["kind", "priority", "category", "enabled"]
    search_fields = ["key", "name", "tag__name", "device_type_tag__member", "category"]
    # Searchable picker for the tag (by name, description, machine, member); device-type members are few: a list.
    autocomplete_fields = ["tag"]
    fieldsets = (
        (None, {"fields": ("key", "name", "enabled")}),
        ("What it watches", {"fields": ("tag", "device_type_tag", "kind", "setpoint", "deadband")}),
        ("Timing", {"fields": ("on_delay", "off_delay")}),
        ("Handling", {"fields": ("priority", "category", "message", "ack_requires_reason", "reason_codes",
                                 "max_shelve_seconds", "shelve_requires_reason", "suppress_condition")}),
    )

    def audit_id(self, obj) -> str:
        return obj.key

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            # The alarms themselves exist at once, not only when an evaluating process next reloads.
            services.alarm_instances_sync()
        self.message_user(request, "Alarm definitions reloaded: evaluation uses this definition from the next "
                                   "value recorded for its tag; its alarms exist now.", messages.INFO)


@admin.register(Alarm)
class AlarmAdmin(ReadOnlyModelAdmin):
    """Alarms follow their definitions (alarm_instances_sync); state changes go through the services
    (journaled and audited), here only through the out-of-service actions."""

    list_display = ["id", "definition", "tag", "state", "active", "acked", "suppressed", "shelved_until",
                    "out_of_service", "last_transition_at"]
    list_filter = ["state", "out_of_service", "definition__priority"]
    search_fields = ["definition__key", "tag__name"]
    list_select_related = ["definition", "tag"]
    actions = ["take_out_of_service", "return_to_service"]

    @admin.action(description="Take out of service")
    def take_out_of_service(self, request, queryset):
        self._each(request, queryset, lambda a: services.alarm_remove_from_service(
            alarm=a, user=request.user, reason=f"Taken out of service in Django admin by {request.user.username}"))

    @admin.action(description="Return to service")
    def return_to_service(self, request, queryset):
        self._each(request, queryset, lambda a: services.alarm_return_to_service(
            alarm=a, user=request.user, reason="Django admin"))

    def _each(self, request, queryset, fn):
        done = 0
        for alarm in queryset.select_related("definition", "tag__machine"):
            try:
                fn(alarm)
                done += 1
            except KilnError as exc:
                self.message_user(request, f"{alarm}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"{done} alarm(s) changed.")


@admin.register(AlarmEvent)
class AlarmEventAdmin(ReadOnlyModelAdmin):
    list_display = ["ts", "key", "tag_name", "event", "state_before", "state_after", "value", "username", "reason"]
    list_filter = ["event", "priority", "state_after"]
    search_fields = ["key", "tag_name", "username", "reason"]
    date_hierarchy = "ts"
