"""Filters for the audit trail API."""

import django_filters

from accounts.models import AuditRecord
from scada.api.filters import IntegerFilter

__all__ = ["AuditRecordFilterSet"]


class AuditRecordFilterSet(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="username")
    user_id = IntegerFilter(field_name="user_id")
    action = django_filters.CharFilter(field_name="action")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    object_type = django_filters.CharFilter(field_name="object_type")
    object_id = django_filters.CharFilter(field_name="object_id")
    start = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="gte")
    end = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="lt")

    class Meta:
        model = AuditRecord
        fields = ["user", "user_id", "action", "action_prefix", "object_type", "object_id", "start", "end"]
