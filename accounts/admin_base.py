"""One audited Django admin base: every add, change and delete made in admin lands in the audit trail.

Each change and its audit record commit together (one transaction), so admin can never change configuration
without the record of it, nor leave a record of a change that rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib import admin
from django.db import models, transaction
from django.forms.models import model_to_dict

from accounts.audit import audit_record

__all__ = ["AuditedModelAdmin", "audit_plain"]


def audit_plain(value):
    """A form or model value as something the audit trail can hold (model instances by their str)."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, models.QuerySet | list | tuple):
        return [audit_plain(v) for v in value]
    return value


class AuditedModelAdmin(admin.ModelAdmin):
    """Audits create / update / delete, and the rows of inlines, as `<audit_object_type>.<verb>`.

    - `audit_object_type`: the audit record's object type (default: the model's name).
    - `audit_fields`: fields whose values before and after are recorded. When None, an update records the form's
      changed fields (old from the form's initial data), a delete every editable field of the row.
    - `audit_id(obj)` names the object in the record; `audit_action(verb)` names the action.
    """

    audit_object_type: str = ""
    audit_fields: Sequence[str] | None = None
    audit_reason = "Django admin"

    # --- naming -------------------------------------------------------------------------------------

    def audit_type(self) -> str:
        return self.audit_object_type or self.model._meta.model_name

    def audit_action(self, verb: str) -> str:
        return f"{self.audit_type()}.{verb}"

    def audit_id(self, obj) -> str:
        return str(obj)

    def audit_snapshot(self, obj) -> dict:
        """The recorded values of `obj` (audit_fields, or every editable field)."""
        if self.audit_fields is None:
            return {k: audit_plain(v) for k, v in model_to_dict(obj).items()}
        values = {}
        for name in self.audit_fields:
            field = obj._meta.get_field(name)
            values[name] = getattr(obj, field.attname) if field.is_relation else getattr(obj, name)
        return values

    def _record(self, request, verb: str, obj, *, old=None, new=None) -> None:
        audit_record(action=self.audit_action(verb), user=request.user, object_type=self.audit_type(),
                     object_id=self.audit_id(obj), old_value=old, new_value=new, reason=self.audit_reason)

    # --- admin hooks --------------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if self.audit_fields is not None:
                old = self.audit_snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
                super().save_model(request, obj, form, change)
                new = self.audit_snapshot(obj)
                if change and old == new:
                    return
            else:
                fields = form.changed_data if change else [f for f in form.cleaned_data if f in form.fields]
                super().save_model(request, obj, form, change)
                if change and not fields:
                    return
                old = {f: audit_plain(form.initial.get(f)) for f in fields} if change else None
                new = {f: audit_plain(form.cleaned_data.get(f)) for f in fields}
            self._record(request, "update" if change else "create", obj, old=old, new=new)

    def save_formset(self, request, form, formset, change):
        with transaction.atomic():
            super().save_formset(request, form, formset, change)
            entries = [{"change": "added", "object": str(o), "fields": None} for o in formset.new_objects]
            entries += [{"change": "changed", "object": str(o), "fields": f} for o, f in formset.changed_objects]
            entries += [{"change": "deleted", "object": str(o), "fields": None} for o in formset.deleted_objects]
            if entries:
                self._record(request, "update", form.instance, new={"inline": entries})

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._record(request, "delete", obj, old=self.audit_snapshot(obj))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # One by one, so a subclass's delete_model (a service that refuses, or cleans up) runs for each row.
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)
