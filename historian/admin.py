"""Django admin: per-tag historian settings (Engineer+, audited) and the writer's checkpoint (read-only).

Samples and rollups are not shown here: they are data, queried through the history API.
"""

from django.contrib import admin

from accounts.admin_base import AuditedModelAdmin
from historian.models import HistorianWriterCheckpoint, TagHistorySetting
from scada.admin import ReadOnlyModelAdmin

FIELDS = ["store_every_minutes", "retention_days"]


@admin.register(TagHistorySetting)
class TagHistorySettingAdmin(AuditedModelAdmin):
    audit_object_type = "tag"
    audit_fields = FIELDS
    list_display = ["tag", "store_every_minutes", "retention_days", "last_updated"]
    search_fields = ["tag__name"]
    list_select_related = ["tag"]
    autocomplete_fields = ["tag"]  # a searchable picker, not an id box

    def audit_action(self, verb: str) -> str:
        return f"tag_history_setting.{verb}"

    def audit_id(self, obj) -> str:
        return obj.tag.name


@admin.register(HistorianWriterCheckpoint)
class HistorianWriterCheckpointAdmin(ReadOnlyModelAdmin):
    """Read-only: moving the checkpoint would make the writer skip or repeat buffered entries."""

    list_display = ["stream_epoch", "last_id", "updated"]
