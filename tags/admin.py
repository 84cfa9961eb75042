"""Django admin for sites, device types, machines and tags, usable by an Engineer; every change is audited.

Django admin runs each add/change/delete in one transaction, so the audit records written here commit or roll
back with the change they describe. Machines made from a device type get their member tags through
tags.services.machine_create_from_type, the same service the API and the demo use.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join

from accounts.admin_base import AuditedModelAdmin
from scada.errors import KilnError
from scada.roles import Role
from tags.display import value_text
from tags.live import live_get_many
from tags.models import DeviceCommand, DeviceType, DeviceTypeTag, Machine, Site, Tag
from tags.selectors import tag_usage
from tags.services import machine_create_from_type, machine_sync_from_type, tag_delete, tags_set_active
from tags.values import tag_config_changed


@admin.register(Site)
class SiteAdmin(AuditedModelAdmin):
    audit_object_type = "site"
    list_display = ["site_id", "name"]
    search_fields = ["site_id", "name", "description"]


class DeviceTypeTagInline(admin.TabularInline):
    model = DeviceTypeTag
    extra = 0
    fields = ["member", "datatype", "unit", "decimals", "min_value", "max_value", "deadband", "is_writable",
              "write_role", "requires_signature", "description"]


class DeviceCommandInline(admin.StackedInline):
    model = DeviceCommand
    extra = 0
    fields = ["command_id", "name", "min_role", "parameters", "preconditions", "actions", "description"]


@admin.register(DeviceType)
class DeviceTypeAdmin(AuditedModelAdmin):
    audit_object_type = "devicetype"
    list_display = ["type_id", "version", "name"]
    search_fields = ["type_id", "name", "description"]
    inlines = [DeviceTypeTagInline, DeviceCommandInline]


class TagInline(admin.TabularInline):
    """The machine's tags, read-only here: each is configured on its own Tag page (with its audit)."""

    model = Tag
    extra = 0
    fields = ["name", "member", "datatype", "unit", "is_writable", "is_active"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class MachineAdminForm(forms.ModelForm):
    class Meta:
        model = Machine
        fields = ["machine_id", "name", "site", "device_type", "location", "process_id", "status"]

    def clean(self):
        data = super().clean()
        device_type, machine_id = data.get("device_type"), data.get("machine_id")
        if device_type and machine_id:
            names = [f"{machine_id}.{m}" for m in device_type.member_tags.values_list("member", flat=True)]
            taken = Tag.objects.filter(name__in=names).exclude(machine__machine_id=machine_id)
            if taken.exists():
                raise forms.ValidationError(f"Tag '{taken.first().name}' already exists on another machine.")
        return data


@admin.register(Machine)
class MachineAdmin(AuditedModelAdmin):
    audit_object_type = "machine"
    list_display = ["machine_id", "name", "site", "device_type", "location", "status"]
    list_filter = ["site", "device_type", "status"]
    search_fields = ["machine_id", "name", "location", "process_id"]
    list_select_related = ["site", "device_type"]
    inlines = [TagInline]
    actions = ["sync_member_tags"]

    form = MachineAdminForm

    def save_model(self, request, obj, form, change):
        if not change and obj.device_type_id:
            # A new instance of a device type: the service saves it, creates its member tags and audits both.
            machine_create_from_type(machine_id=obj.machine_id, device_type=obj.device_type, user=request.user,
                                     machine=obj)
            return
        super().save_model(request, obj, form, change)
        if change and "device_type" in form.changed_data and obj.device_type_id:
            machine_sync_from_type(machine=obj, user=request.user)

    @admin.action(description="Create missing member tags from the device type")
    def sync_member_tags(self, request, queryset):
        added = 0
        for machine in queryset.select_related("device_type"):
            try:
                added += len(machine_sync_from_type(machine=machine, user=request.user))
            except KilnError as exc:
                self.message_user(request, f"{machine}: {exc.detail}", level=messages.ERROR)
        self.message_user(request, f"{added} member tag(s) created.")


class QualityFilter(admin.SimpleListFilter):
    """Filter by live quality, read from the live value table (one HMGET over the filtered ids)."""

    title = "quality"
    parameter_name = "quality"

    def lookups(self, request, model_admin):
        return [("GOOD", "GOOD"), ("UNCERTAIN", "UNCERTAIN"), ("BAD", "BAD"), ("NULL", "no value yet")]

    def queryset(self, request, queryset):
        wanted = self.value()
        if not wanted:
            return queryset
        ids = list(queryset.values_list("id", flat=True))
        live = live_get_many(ids)
        match = [i for i in ids if (live[i].quality if live[i] else "NULL") == wanted]
        return queryset.filter(pk__in=match)


@admin.register(Tag)
class TagAdmin(AuditedModelAdmin):
    audit_object_type = "tag"
    list_display = ["name", "machine", "datatype", "live_value", "live_quality", "unit", "is_writable", "write_role",
                    "is_active", "write_count", "last_write_at"]
    list_filter = ["machine", "datatype", QualityFilter, "is_active", "is_writable", "write_role"]
    search_fields = ["name", "description", "machine__machine_id", "member"]
    list_select_related = ["machine"]
    autocomplete_fields = ["machine"]
    readonly_fields = ["last_write_by", "last_write_at", "write_count", "created", "last_updated", "used_on"]
    fieldsets = (
        (None, {"fields": ("machine", "name", "member", "datatype", "description", "unit", "decimals", "used_on")}),
        ("Limits and recording", {"fields": ("min_value", "max_value", "deadband")}),
        ("Writing", {"fields": ("is_writable", "write_role", "requires_signature", "is_active")}),
        ("Write tracking", {"fields": ("last_write_by", "last_write_at", "write_count", "created", "last_updated")}),
    )
    actions = ["activate", "deactivate"]

    def audit_id(self, obj) -> str:
        return obj.name

    def get_changelist_instance(self, request):
        cl = super().get_changelist_instance(request)
        # One HMGET for the page's live values; the template iterates these same (cached) instances.
        rows = list(cl.result_list)
        live = live_get_many([t.pk for t in rows])
        for t in rows:
            t._live = live.get(t.pk)
        return cl

    @admin.display(description="value")
    def live_value(self, obj):
        lv = getattr(obj, "_live", None)
        # With the tag's display decimals (1485.2, not float32 noise such as 1485.199951171875).
        return "—" if lv is None else value_text(lv.value, obj.decimals)

    @admin.display(description="quality")
    def live_quality(self, obj):
        lv = getattr(obj, "_live", None)
        return "—" if lv is None else lv.quality

    @admin.display(description="used on")
    def used_on(self, obj):
        # Where used (KILN_TAG_USAGE_PROVIDERS: the HMI's screens first), so a rename or delete is not blind.
        uses = tag_usage(obj.name) if obj.pk else []
        if not uses:
            return "—"
        return format_html_join(", ", '<a href="{}">{} {}</a>', ((u["url"], u["kind"], u["name"]) for u in uses))

    def save_model(self, request, obj, form, change):
        old_name = form.initial.get("name") if change else None
        super().save_model(request, obj, form, change)
        transaction.on_commit(tag_config_changed)
        if old_name and old_name != obj.name:
            uses = tag_usage(old_name)
            if uses:
                messages.warning(request, format_html(
                    "Renamed from {}: {} still bind the old name and show it as unresolved until edited: {}",
                    old_name, len(uses), format_html_join(", ", '<a href="{}">{} {}</a>',
                                                          ((u["url"], u["kind"], u["name"]) for u in uses))))

    def render_delete_form(self, request, context):
        # The delete confirmation names the screens (and other users) that will lose this tag's value.
        obj = context.get("object")
        context["tag_usage"] = tag_usage(obj.name) if obj is not None else []
        if context["tag_usage"]:
            messages.warning(request, format_html(
                "Used on {}: they will show this tag as unresolved.",
                format_html_join(", ", '<a href="{}">{} {}</a>',
                                 ((u["url"], u["kind"], u["name"]) for u in context["tag_usage"]))))
        return super().render_delete_form(request, context)

    def has_delete_permission(self, request, obj=None):
        # Deleting a tag is the Admin's (seed 000), here as in the API; Engineers deactivate instead.
        return getattr(request.user, "role", 0) >= Role.ADMIN and super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        # The service refuses (409) while alarms or other configuration still use the tag.
        tag_delete(user=request.user, tag=obj, reason="Django admin")

    def delete_queryset(self, request, queryset):
        for tag in queryset.select_related("machine"):
            tag_delete(user=request.user, tag=tag, reason="Django admin")

    @admin.action(description="Activate selected tags")
    def activate(self, request, queryset):
        n = tags_set_active(user=request.user, tags=list(queryset), is_active=True, reason="Django admin")
        self.message_user(request, f"{n} tag(s) activated.")

    @admin.action(description="Deactivate selected tags")
    def deactivate(self, request, queryset):
        n = tags_set_active(user=request.user, tags=list(queryset), is_active=False, reason="Django admin")
        self.message_user(request, f"{n} tag(s) deactivated.")
