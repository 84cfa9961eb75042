"""Django admin for driver connections and tag addresses (Engineers and Admins); every change is audited.

Connections show their live state, can be tested and have an address map (drivers.admin_diagnostics).

OPC UA connections get a browse page (`<id>/browse/`): the server's address space, a folder at a time, with a
"bind" link per variable that opens the node binding form filled in (connection, NodeId, browse path).
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin_base import AuditedModelAdmin
from drivers import codec
from drivers.admin_diagnostics import ConnectionDiagnosticsMixin
from drivers.models import Connection, DiscoveredMetric, MetricBinding, NodeBinding, TagBinding, TopicBinding
from drivers.services import config_change_audit
from scada.admin import ReadOnlyModelAdmin


class DriverConfigAdmin(AuditedModelAdmin):
    """Audited as `driver.<model>_<verb>`; the config-version bump itself happens in drivers.signals."""

    # Said after every save: the engineer should know the change reaches the running poll loops by itself.
    RELOAD_NOTE = ("The running poll loops re-plan with this configuration at their next poll cycle (the "
                   "connection's socket is reopened only if its address, unit id, timeout or retries changed); "
                   "no restart needed.")

    def audit_action(self, verb: str) -> str:
        return f"driver.{self.model._meta.model_name}_{verb}"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self.message_user(request, self.RELOAD_NOTE, messages.INFO)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self.message_user(request, self.RELOAD_NOTE, messages.INFO)

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
    autocomplete_fields = ["tag"]  # a searchable picker (name, description, machine, member), not an id box
    show_change_link = True


class NodeBindingInline(admin.TabularInline):
    model = NodeBinding
    extra = 0
    fields = ["tag", "node_id", "variant", "sampling_interval", "deadband", "browse_path"]
    autocomplete_fields = ["tag"]  # a searchable picker (name, description, machine, member), not an id box
    show_change_link = True


class TopicBindingInline(admin.TabularInline):
    model = TopicBinding
    extra = 0
    fields = ["tag", "topic", "json_path"]
    autocomplete_fields = ["tag"]  # a searchable picker (name, description, machine, member), not an id box
    show_change_link = True


class MetricBindingInline(admin.TabularInline):
    model = MetricBinding
    extra = 0
    fields = ["tag", "edge_node", "device", "metric", "datatype"]
    autocomplete_fields = ["tag"]  # a searchable picker (name, description, machine, member), not an id box
    show_change_link = True


@admin.register(Connection)
class ConnectionAdmin(ConnectionDiagnosticsMixin, DriverConfigAdmin):
    list_display = ["name", "protocol", "host", "port", "enabled", *ConnectionDiagnosticsMixin.diagnostics_list_display]
    list_filter = ["protocol", "enabled"]
    search_fields = ["name", "host", "description", "endpoint_url"]
    actions = ["test_connection"]
    # Each fieldset names the protocols it serves (classes kiln-proto-<protocol>); drivers/admin-connection.js
    # shows only the chosen protocol's, so a Modbus connection is not asked for an OPC UA endpoint.
    fieldsets = (
        (None, {"fields": ("name", "description", "protocol", "enabled", "live_status")}),
        ("Address", {"fields": ("host", "port"), "classes": ("kiln-proto-modbus_tcp", "kiln-proto-sparkplug",
                                                            "kiln-proto-mqtt_json"),
                     "description": "The PLC's (Modbus) or the MQTT broker's; an OPC UA connection takes them from "
                                    "its endpoint URL."}),
        ("Modbus TCP", {"fields": ("unit_id", "retries", "merge_gap"), "classes": ("kiln-proto-modbus_tcp",)}),
        ("OPC UA", {"fields": ("endpoint_url", "browse", "security", "server_certificate_sha256",
                               "session_timeout", "publishing_interval"), "classes": ("kiln-proto-opcua",)}),
        ("Login", {"fields": ("username", "password_env"), "classes": ("kiln-proto-opcua", "kiln-proto-sparkplug",
                                                                        "kiln-proto-mqtt_json"),
                   "description": "The password is never stored: name the environment variable that holds it."}),
        ("MQTT", {"fields": ("tls", "group_id", "host_id"), "classes": ("kiln-proto-sparkplug", "kiln-proto-mqtt_json"),
                  "description": "Group and host application id: Sparkplug only. Timeout: how long a Sparkplug write "
                                 "waits for the metric's new value."}),
        ("Timing", {"fields": ("timeout", "backoff_cap")}),
    )
    inlines = [TagBindingInline, NodeBindingInline, MetricBindingInline, TopicBindingInline]
    readonly_fields = ["browse", "live_status"]

    class Media:
        js = ["drivers/admin-connection.js"]

    @admin.display(description="Address space")
    def browse(self, obj):
        if obj is None or obj.pk is None or obj.protocol != "opcua":
            return "—"
        return format_html('<a href="{}">Browse the server to pick nodes</a>',
                           reverse("admin:drivers_connection_browse", args=[obj.pk]))

    def get_urls(self):
        extra = [path("<int:pk>/browse/", self.admin_site.admin_view(self.browse_view),
                      name="drivers_connection_browse"), *self.diagnostics_urls()]
        return extra + super().get_urls()

    def browse_view(self, request, pk: int):
        """One folder of the server's address space; read-only (the bind links lead to the audited form)."""
        import re

        from drivers.models import NODE_ID_RE
        from drivers.opcua.browse import BrowseError, NodeMissing, opcua_browse

        conn = Connection.objects.filter(pk=pk, protocol="opcua").first() if pk <= 2 ** 63 - 1 else None
        if conn is None or not self.has_view_or_change_permission(request, conn):
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(pk))
        node = request.GET.get("node") or None
        where = (request.GET.get("path") or "Objects")[:400]
        result, error = None, None
        if node is not None and not re.fullmatch(NODE_ID_RE, node):
            error = "That is not an OPC UA NodeId."
        else:
            try:
                result = opcua_browse(conn, node)
            except (BrowseError, NodeMissing) as exc:
                error = str(exc)
        if error:
            messages.error(request, error)
        rows = []
        bound = set(NodeBinding.objects.filter(connection=conn).values_list("node_id", flat=True))
        for child in (result or {}).get("children", []):
            child_path = f"{where}/{child.display_name}"
            rows.append({
                "child": child, "path": child_path, "bound": child.node_id in bound,
                "browse_url": "?" + urlencode({"node": child.node_id, "path": child_path}),
                "bind_url": reverse("admin:drivers_nodebinding_add") + "?" + urlencode(
                    {"connection": conn.pk, "node_id": child.node_id, "browse_path": child_path[:500]}),
            })
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": conn,
                   "title": f"Browse {conn.name}", "where": where, "rows": rows,
                   "truncated": bool(result and result["truncated"])}
        return TemplateResponse(request, "admin/drivers/connection/browse.html", context)

    def get_inlines(self, request, obj):
        # Bindings of the connection's own protocol only (a new connection gets them once its protocol is saved).
        if obj is None:
            return []
        return {"opcua": [NodeBindingInline], "sparkplug": [MetricBindingInline],
                "mqtt_json": [TopicBindingInline]}.get(obj.protocol, [TagBindingInline])

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
            if isinstance(obj, NodeBinding):
                changed = {"tag": obj.tag.name, "node_id": obj.node_id}
            elif isinstance(obj, TopicBinding):
                changed = {"tag": obj.tag.name, "topic": obj.topic, "json_path": obj.json_path}
            elif isinstance(obj, MetricBinding):
                changed = {"tag": obj.tag.name, "edge_node": obj.edge_node, "device": obj.device, "metric": obj.metric}
            else:
                changed = {"tag": obj.tag.name, "table": obj.table, "address": obj.address}
            config_change_audit(user=request.user, action=f"driver.{model}_{'create' if created else 'update'}",
                                obj=obj, changed=changed)
        formset.save_m2m()


@admin.register(TagBinding)
class TagBindingAdmin(DriverConfigAdmin):
    list_display = ["tag", "connection", "table", "address", "data_type", "scan_period"]
    list_filter = ["connection", "table", "data_type", "scan_period"]
    search_fields = ["tag__name"]
    list_select_related = ["tag", "connection"]
    autocomplete_fields = ["tag"]  # a searchable picker (name, description, machine, member), not an id box
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
    autocomplete_fields = ["tag"]  # a searchable picker (name, description, machine, member), not an id box
    fields = ["tag", "connection", "node_id", "browse_path", "variant", "sampling_interval", "deadband"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "connection":
            kwargs["queryset"] = Connection.objects.filter(protocol="opcua")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(MetricBinding)
class MetricBindingAdmin(DriverConfigAdmin):
    list_display = ["tag", "connection", "edge_node", "device", "metric", "datatype"]
    list_filter = ["connection", "datatype"]
    search_fields = ["tag__name", "edge_node", "device", "metric"]
    list_select_related = ["tag", "connection"]
    autocomplete_fields = ["tag"]  # a searchable picker (name, description, machine, member), not an id box
    fields = ["tag", "connection", "edge_node", "device", "metric", "datatype"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "connection":
            kwargs["queryset"] = Connection.objects.filter(protocol="sparkplug")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AcceptMetricsForm(forms.Form):
    machine_id = forms.CharField(required=False, max_length=64,
                                 help_text="Machine of the new tags (made if missing). Empty: one per edge node.")
    prefix = forms.CharField(required=False, max_length=40, help_text="Put before each tag name.")
    writable = forms.BooleanField(required=False, help_text="Writable tags are written back as NCMD/DCMD.")


@admin.register(DiscoveredMetric)
class DiscoveredMetricAdmin(ReadOnlyModelAdmin):
    """What edge nodes declared in their births (only births add rows): read-only, turned into tags only by the
    audited accept action."""

    list_display = ["metric", "edge_node", "device", "datatype_label", "connection", "last_seen", "bound_to"]
    list_filter = ["connection", "edge_node"]
    search_fields = ["metric", "edge_node", "device"]
    list_select_related = ["connection"]
    actions = ["accept_as_tags"]

    def has_accept_permission(self, request):
        return request.user.has_perms(["drivers.add_metricbinding", "tags.add_tag"])

    @admin.display(description="bound to")
    def bound_to(self, obj):
        b = MetricBinding.objects.filter(connection_id=obj.connection_id, edge_node=obj.edge_node, device=obj.device,
                                         metric=obj.metric).select_related("tag").first()
        return b.tag.name if b else "—"

    @admin.action(description="Accept the selected metrics as tags…", permissions=["accept"])
    def accept_as_tags(self, request, queryset):
        from drivers.sparkplug.services import discovered_metrics_accept, tag_datatype_for, tag_name_for

        form = AcceptMetricsForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            result = discovered_metrics_accept(user=request.user, metrics=list(queryset),
                                               machine_id=form.cleaned_data["machine_id"],
                                               prefix=form.cleaned_data["prefix"],
                                               writable=form.cleaned_data["writable"])
            if result.created:
                self.message_user(request, f"{len(result.created)} tags created and bound: "
                                           f"{', '.join(result.created[:20])}", messages.SUCCESS)
            if result.skipped:
                self.message_user(request, f"Skipped: {'; '.join(result.skipped[:20])}", messages.WARNING)
            return None
        rows = [{"metric": m, "name": tag_name_for(m, request.POST.get("prefix", "")),
                 "problem": None if tag_datatype_for(m.datatype) else "cannot be a tag"} for m in queryset]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "rows": rows, "form": form,
                   "title": "Accept discovered metrics as tags"}
        return TemplateResponse(request, "admin/drivers/discoveredmetric/accept.html", context)
