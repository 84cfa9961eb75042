"""Filters for the batch list (GET /api/batches: status, recipe, machine, lot, started date range) and the
recipe list (GET /api/recipes: name, status, machine)."""

import django_filters

from batches.choices import BatchStatus, RecipeStatus
from batches.models import Batch, Recipe
from scada.api.filters import UtcDateTimeFilter

__all__ = ["BatchFilterSet", "RecipeFilterSet"]


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


class RecipeFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name")
    status = django_filters.MultipleChoiceFilter(choices=RecipeStatus.choices)
    machine = django_filters.CharFilter(field_name="machines__machine_id", help_text="Runs on this machine.")

    class Meta:
        model = Recipe
        fields = ["name", "status", "machine"]
