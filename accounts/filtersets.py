"""Filters for the users, audit trail and signatures APIs."""

import django_filters
from django import forms

from accounts.models import AuditRecord, Signature, User
from scada.api.filters import IntegerFilter, KilnFilterSet, StrictBooleanFilter, UtcDateTimeFilter
from scada.roles import ROLE_NAMES, Role

__all__ = ["AuditRecordFilterSet", "SignatureFilterSet", "UserFilterSet"]


class RoleField(forms.Field):
    """A role as the API shows it (a name, any case) or as stored (its number): "admin", "Admin" or 40."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip()
        if text.isdigit() and int(text) in Role.values:
            return Role(int(text))
        try:
            return Role.from_name(text)
        except ValueError:
            raise forms.ValidationError(f"Unknown role '{text}'; expected one of: {', '.join(ROLE_NAMES)} "
                                        f"(or {', '.join(str(v) for v in Role.values)}).")


class RoleFilter(django_filters.Filter):
    field_class = RoleField


class UserFilterSet(KilnFilterSet):
    role = RoleFilter(field_name="role")
    is_active = StrictBooleanFilter(field_name="is_active")

    class Meta:
        model = User
        fields = ["is_active", "role"]


class AuditRecordFilterSet(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="username")
    user_id = IntegerFilter(field_name="user_id")
    action = django_filters.CharFilter(field_name="action")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")
    object_type = django_filters.CharFilter(field_name="object_type")
    object_id = django_filters.CharFilter(field_name="object_id")
    start = UtcDateTimeFilter(field_name="ts", lookup_expr="gte")
    end = UtcDateTimeFilter(field_name="ts", lookup_expr="lt")

    class Meta:
        model = AuditRecord
        fields = ["user", "user_id", "action", "action_prefix", "object_type", "object_id", "start", "end"]


class SignatureFilterSet(django_filters.FilterSet):
    object_type = django_filters.CharFilter(field_name="object_type")
    object_id = django_filters.CharFilter(field_name="object_id")
    signer = django_filters.CharFilter(field_name="signer_username")
    meaning = django_filters.CharFilter(field_name="meaning")
    start = UtcDateTimeFilter(field_name="signed_at", lookup_expr="gte")
    end = UtcDateTimeFilter(field_name="signed_at", lookup_expr="lt")

    class Meta:
        model = Signature
        fields = ["object_type", "object_id", "signer", "meaning", "start", "end"]
