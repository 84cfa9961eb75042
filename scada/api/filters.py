"""django-filter pieces that refuse what the OpenAPI schema says is invalid, instead of silently ignoring it.

django-filter's BooleanFilter reads `?active=banana` as "no filter", its NumberFilter takes `?user_id=0.5`, and
a foreign key filter answers 400 for an id that does not exist (a valid integer). The schema says boolean and
integer, so: a bad boolean or integer is a 400; an integer that matches nothing is an empty list.
"""

from datetime import UTC

import django_filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend

__all__ = ["StrictBooleanFilter", "IntegerFilter", "UtcDateTimeFilter", "KilnFilterSet", "KilnFilterBackend"]

_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class _RawWidget(forms.TextInput):
    pass


class _StrictNullBooleanField(forms.Field):
    widget = _RawWidget

    def to_python(self, value):
        if value in (None, ""):
            return None  # not given
        try:
            return _BOOLEANS[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError(f"'{value}' is not a boolean; use true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """true/false (or 1/0); anything else is a 400."""

    field_class = _StrictNullBooleanField


class IntegerFilter(django_filters.NumberFilter):
    """A whole number; a fraction or text is a 400."""

    field_class = forms.IntegerField


class _UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        # In UTC, as stored: PostgreSQL refuses zone offsets beyond ±15:59 that ISO 8601 (and Python) allow, and a
        # date near year 1 or 9999 may leave the calendar once moved to UTC: both are the caller's 400, not a 500.
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError(f"'{value}' is out of range once converted to UTC.", code="invalid")


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared in UTC; one that cannot be expressed in UTC is a 400."""

    field_class = _UtcIsoDateTimeField


class KilnFilterSet(django_filters.FilterSet):
    """The base of every FilterSet generated from `filterset_fields`."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.ForeignKey: {"filter_class": IntegerFilter},
    }


class KilnFilterBackend(DjangoFilterBackend):
    filterset_base = KilnFilterSet
