"""Filters of the tag list (seed 003): machine_id, datatype, active_only, writable_only, search.

`quality` is not here on purpose: it lives in the live value table (Redis), not in SQL, so the selector
applies it (tags.selectors.tag_list). Bad values are a 400 with a clear message, never silently ignored.
"""

import django_filters
from django.db.models import Q

from scada.errors import BadRequest
from tags.models import Tag
from tags.services import datatype_parse

__all__ = ["TagFilterSet", "parse_bool"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_bool(name: str, value, default: bool) -> bool:
    """A query-string boolean; absent → default, anything but true/false/1/0/yes/no/on/off → 400."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadRequest(f"{name} must be true or false, not '{value}'")


class TagFilterSet(django_filters.FilterSet):
    """GET /api/tags filters. active_only defaults to true, writable_only to false (seed 003)."""

    machine_id = django_filters.CharFilter(field_name="machine__machine_id")
    datatype = django_filters.CharFilter(method="filter_datatype")
    active_only = django_filters.CharFilter(method="filter_active_only")
    writable_only = django_filters.CharFilter(method="filter_writable_only")
    search = django_filters.CharFilter(method="filter_search")

    class Meta:
        model = Tag
        fields = ["machine_id", "datatype", "active_only", "writable_only", "search"]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        # A filter method only runs when its parameter is present, so the default of active_only lives here.
        if not self.form.cleaned_data.get("active_only"):
            queryset = queryset.filter(is_active=True)
        return queryset

    def filter_datatype(self, queryset, name, value):
        return queryset.filter(datatype=datatype_parse(value))

    def filter_active_only(self, queryset, name, value):
        return queryset.filter(is_active=True) if parse_bool("active_only", value, True) else queryset

    def filter_writable_only(self, queryset, name, value):
        return queryset.filter(is_writable=True) if parse_bool("writable_only", value, False) else queryset

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))
