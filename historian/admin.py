"""Django admin: per-tag historian settings (Engineer+, audited) and the writer's checkpoint (read-only).

Samples and rollups are not shown here: they are data, queried through the history API.
"""

from django.contrib import admin
from django.db import transaction

from accounts.audit import audit_record
from historian.models import HistorianWriterCheckpoint, TagHistorySetting

FIELDS = ["store_every_minutes", "retention_days"]


def _snapshot(obj: TagHistorySetting) -> dict:
    return {f: getattr(obj, f) for f in FIELDS}


@admin.register(TagHistorySetting)
class TagHistorySettingAdmin(admin.ModelAdmin):
    list_display = ["tag", "store_every_minutes", "retention_days", "last_updated"]
    search_fields = ["tag__name"]
    list_select_related = ["tag"]
    raw_id_fields = ["tag"]

    def save_model(self, request, obj, form, change):
        old = _snapshot(TagHistorySetting.objects.get(pk=obj.pk)) if change else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(action="tag_history_setting.update" if change else "tag_history_setting.create",
                         user=request.user, object_type="tag", object_id=obj.tag.name, old_value=old,
                         new_value=_snapshot(obj), reason="Django admin")

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(action="tag_history_setting.delete", user=request.user, object_type="tag",
                         object_id=obj.tag.name, old_value=_snapshot(obj), reason="Django admin")
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("tag"):
            self.delete_model(request, obj)


@admin.register(HistorianWriterCheckpoint)
class HistorianWriterCheckpointAdmin(admin.ModelAdmin):
    list_display = ["stream_epoch", "last_id", "updated"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # moving it would make the writer skip or repeat buffered entries
