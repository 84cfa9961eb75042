"""Django admin for driver connections and tag addresses (Engineers and Admins); every change is audited."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from accounts.admin_base import AuditedModelAdmin
from drivers import codec
from drivers.models import Connection, NodeBinding, TagBinding
from drivers.services import config_change_audit


class DriverConfigAdmin(AuditedModelAdmin):
    """Audited as `driver.<model>_<verb>`; the config-version bump itself happens in drivers.signals."""

    def audit_action(self, verb: str) -> str:
        return f"driver.{self.model._meta.model_name}_{verb}"

    def audit_id(self, obj) -> str:
        return str(obj.pk)


class TagBindingFormSet(BaseInlineFormSet):
    """Rows of one submit may overlap each other, which each row's clean() (against the database) cannot see."""

    def clean(self):
        super().clean()
        spans = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or data.get("address") is None or not data.get("table"):
                continue
            n = codec.register_count(data.get("data_type") or "uint16", data.get("string_length"))
            tag = data.get("tag")
            spans.append((data["table"], data["address"], data["address"] + n - 1, str(tag) if tag else "?"))
        spans.sort()
        for (t1, s1, e1, n1), (t2, s2, e2, n2) in zip(spans, spans[1:], strict=False):
            if t1 == t2 and s2 <= e1:
                raise ValidationError(f"'{n1}' ({t1} {s1}–{e1}) and '{n2}' ({t2} {s2}–{e2}) overlap.")


class TagBindingInline(admin.TabularInline):
    model = TagBinding
    formset = TagBindingFormSet
    extra = 0
    fields = ["tag", "table", "address", "data_type", "string_length", "word_order", "byte_order", "raw_low",
              "raw_high", "eu_low", "eu_high", "scan_period"]
    raw_id_fields = ["tag"]
    show_change_link = True


class NodeBindingInline(admin.TabularInline):
    model = NodeBinding
    extra = 0
    fields = ["tag", "node_id", "variant", "sampling_interval", "deadband", "browse_path"]
    raw_id_fields = ["tag"]
    show_change_link = True


@admin.register(Connection)
class ConnectionAdmin(DriverConfigAdmin):
    list_display = ["name", "protocol", "host", "port", "unit_id", "timeout", "enabled"]
    list_filter = ["protocol", "enabled"]
    search_fields = ["name", "host", "description", "endpoint_url"]
    fieldsets = (
        (None, {"fields": ("name", "description", "protocol", "enabled")}),
        ("Modbus TCP", {"fields": ("host", "port", "unit_id", "retries", "merge_gap")}),
        ("OPC UA", {"fields": ("endpoint_url", "security", "server_certificate_sha256", "username", "password_env",
                               "session_timeout", "publishing_interval"),
                    "description": "Only for protocol OPC UA; host and port follow the endpoint URL."}),
        ("Timing", {"fields": ("timeout", "backoff_cap")}),
    )
    inlines = [TagBindingInline, NodeBindingInline]

    def get_inlines(self, request, obj):
        # Bindings of the connection's own protocol only (a new connection gets them once its protocol is saved).
        if obj is None:
            return []
        return [NodeBindingInline] if obj.protocol == "opcua" else [TagBindingInline]

    def save_formset(self, request, form, formset, change):
        # Each binding is its own configuration object: one record per binding, not one for the connection.
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            config_change_audit(user=request.user, action=f"driver.{obj._meta.model_name}_delete", obj=obj,
                                changed={"deleted": str(obj)})
            obj.delete()
        for obj in instances:
            created = obj.pk is None
            obj.save()
            model = obj._meta.model_name
            changed = ({"tag": obj.tag.name, "node_id": obj.node_id} if isinstance(obj, NodeBinding)
                       else {"tag": obj.tag.name, "table": obj.table, "address": obj.address})
            config_change_audit(user=request.user, action=f"driver.{model}_{'create' if created else 'update'}",
                                obj=obj, changed=changed)
        formset.save_m2m()


@admin.register(TagBinding)
class TagBindingAdmin(DriverConfigAdmin):
    list_display = ["tag", "connection", "table", "address", "data_type", "scan_period"]
    list_filter = ["connection", "table", "data_type", "scan_period"]
    search_fields = ["tag__name"]
    list_select_related = ["tag", "connection"]
    raw_id_fields = ["tag"]
    fieldsets = (
        (None, {"fields": ("tag", "connection", "scan_period")}),
        ("Address", {"fields": ("table", "address", "data_type", "string_length", "word_order", "byte_order")}),
        ("Scaling raw → engineering units (all four, or none)", {"fields": ("raw_low", "raw_high", "eu_low",
                                                                           "eu_high")}),
    )


@admin.register(NodeBinding)
class NodeBindingAdmin(DriverConfigAdmin):
    list_display = ["tag", "connection", "node_id", "variant", "sampling_interval", "deadband"]
    list_filter = ["connection", "variant"]
    search_fields = ["tag__name", "node_id", "browse_path"]
    list_select_related = ["tag", "connection"]
    raw_id_fields = ["tag"]
    fields = ["tag", "connection", "node_id", "browse_path", "variant", "sampling_interval", "deadband"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "connection":
            kwargs["queryset"] = Connection.objects.filter(protocol="opcua")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
