"""Filters for the alarm list (GET /api/alarms) and the journal (GET /api/alarms/history)."""

from datetime import UTC, datetime, time, timedelta

import django_filters

from alarms.choices import ANNUNCIATED_STATES, AlarmEventType, AlarmPriority, AlarmState
from alarms.models import Alarm, AlarmEvent
from scada.api.filters import IntegerFilter, StrictBooleanFilter, UtcDateTimeFilter

__all__ = ["AlarmFilterSet", "AlarmEventFilterSet"]


class AlarmFilterSet(django_filters.FilterSet):
    """Without `state`, the list holds the annunciated alarms (active, or returned but unacknowledged)."""

    priority = django_filters.MultipleChoiceFilter(field_name="definition__priority", choices=AlarmPriority.choices)
    category = django_filters.CharFilter(field_name="definition__category")
    machine = django_filters.CharFilter(field_name="tag__machine__machine_id")
    tag = django_filters.CharFilter(field_name="tag__name")
    key = django_filters.CharFilter(field_name="definition__key")
    state = django_filters.MultipleChoiceFilter(choices=AlarmState.choices)
    acked = StrictBooleanFilter(field_name="acked")
    active = StrictBooleanFilter(field_name="active")

    class Meta:
        model = Alarm
        fields = ["priority", "category", "machine", "tag", "key", "state", "acked", "active"]

    @property
    def qs(self):
        qs = super().qs
        if not self.form.cleaned_data.get("state"):
            qs = qs.filter(state__in=ANNUNCIATED_STATES)
        return qs


class AlarmEventFilterSet(django_filters.FilterSet):
    """Seed 000 names the journal's filters "date/user": `date` is one UTC day (YYYY-MM-DD); start/end narrow."""

    date = django_filters.DateFilter(method="filter_date", help_text="One UTC day, YYYY-MM-DD")
    start = UtcDateTimeFilter(field_name="ts", lookup_expr="gte")
    end = UtcDateTimeFilter(field_name="ts", lookup_expr="lt")
    user = django_filters.CharFilter(field_name="username")
    tag = django_filters.CharFilter(field_name="tag_name")
    machine = django_filters.CharFilter(field_name="machine_id")
    key = django_filters.CharFilter(field_name="key")
    alarm = IntegerFilter(field_name="alarm_id")
    priority = django_filters.MultipleChoiceFilter(choices=AlarmPriority.choices)
    state = django_filters.MultipleChoiceFilter(field_name="state_after", choices=AlarmState.choices)
    event = django_filters.MultipleChoiceFilter(choices=AlarmEventType.choices)

    class Meta:
        model = AlarmEvent
        fields = ["date", "start", "end", "user", "tag", "machine", "key", "alarm", "priority", "state", "event"]

    def filter_date(self, queryset, name, value):
        day = datetime.combine(value, time.min, tzinfo=UTC)
        return queryset.filter(ts__gte=day, ts__lt=day + timedelta(days=1))
