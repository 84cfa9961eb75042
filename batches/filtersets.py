"""Filters for the batch list (GET /api/batches): status, recipe, machine, lot, started date range."""

import django_filters

from batches.choices import BatchStatus
from batches.models import Batch
from scada.api.filters import UtcDateTimeFilter

__all__ = ["BatchFilterSet"]


class BatchFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=BatchStatus.choices)
    recipe = django_filters.CharFilter(field_name="recipe__name", help_text="Recipe name (any version).")
    machine = django_filters.CharFilter(field_name="machine__machine_id")
    lot = django_filters.CharFilter(field_name="lot")
    start = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte", help_text="Started at or after (UTC).")
    end = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt", help_text="Started before (UTC).")

    class Meta:
        model = Batch
        fields = ["status", "recipe", "machine", "lot", "start", "end"]
