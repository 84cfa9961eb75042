"""Screens in Django admin: engineers upload an SVG drawing and edit its bindings.

Every save goes through hmi.services.screen_save, which sanitizes the SVG (what it removed is shown to the
engineer), validates the bindings against the drawing's element ids and writes the audit trail.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from hmi.bindings import BindingError, binding_tag_names, bindings_validate
from hmi.models import Screen
from hmi.sanitize import MAX_SVG_BYTES, SvgRejected, svg_sanitize
from hmi.services import bindings_unknown_references, screen_delete, screen_save


class ScreenAdminForm(forms.ModelForm):
    """Upload a drawing (or paste its markup) and give its bindings as JSON; both are checked before saving."""

    svg_file = forms.FileField(required=False, label="Upload SVG",
                               help_text="An .svg drawing; scripts, event handlers and external references "
                                         "are removed.")
    svg = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8, "style": "font-family:monospace"}),
                          help_text="The drawing's markup (replaced by an upload).")
    bindings = forms.JSONField(required=False, initial=list,
                               widget=forms.Textarea(attrs={"rows": 14, "style": "font-family:monospace"}),
                               help_text=Screen.__doc__.split("\n\n", 1)[1].replace("\n", " ").strip())

    class Meta:
        model = Screen
        fields = ["name", "slug", "description", "is_home", "sort_order", "svg_file", "svg", "bindings"]

    def clean(self):
        data = super().clean()
        upload = data.get("svg_file")
        if upload:
            if upload.size > MAX_SVG_BYTES:
                raise forms.ValidationError({"svg_file": f"The file is larger than {MAX_SVG_BYTES} bytes."})
            data["svg"] = upload.read()
        if not data.get("svg"):
            raise forms.ValidationError({"svg": "Upload an SVG drawing or paste its markup."})
        try:
            clean = svg_sanitize(data["svg"])
        except SvgRejected as exc:
            raise forms.ValidationError({"svg_file" if upload else "svg": str(exc)})
        try:
            normalized = bindings_validate(data.get("bindings") or [], ids=clean.ids)
        except BindingError as exc:
            raise forms.ValidationError({"bindings": exc.errors})
        unknown = bindings_unknown_references(normalized, own_slug=data.get("slug"))
        if unknown:
            raise forms.ValidationError({"bindings": unknown})
        self.sanitized = clean
        return data

    def save(self, commit=True):
        # ScreenAdmin.save_model stores through screen_save; the form itself never writes.
        self.save_m2m = lambda: None
        return self.instance


@admin.register(Screen)
class ScreenAdmin(admin.ModelAdmin):
    form = ScreenAdminForm
    list_display = ["name", "slug", "is_home", "sort_order", "tag_count", "open_link", "last_updated"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["preview", "open_link"]

    def get_fields(self, request, obj=None):
        fields = ["name", "slug", "description", "is_home", "sort_order", "svg_file", "svg", "bindings"]
        return fields + (["preview", "open_link"] if obj else [])

    @admin.display(description="tags")
    def tag_count(self, obj):
        return len(obj.tag_names)

    @admin.display(description="page")
    def open_link(self, obj):
        return format_html('<a href="/screens/{}/">open</a> · <a href="/editor/{}/">edit in the editor</a> · v{}',
                           obj.slug, obj.slug, obj.version)

    @admin.display(description="tags used")
    def preview(self, obj):
        return ", ".join(binding_tag_names(obj.bindings or [])) or "—"

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in ("name", "slug", "description", "is_home", "sort_order")}
        data["svg"] = form.cleaned_data["svg"]
        data["bindings"] = form.cleaned_data.get("bindings") or []
        screen, removed = screen_save(actor=request.user, data=data, screen=obj if change else None)
        form.instance = screen
        obj.pk = screen.pk
        if removed:
            messages.warning(request, f"Sanitizing removed {len(removed)} item(s): " + "; ".join(removed[:20])
                             + (" …" if len(removed) > 20 else ""))

    def delete_model(self, request, obj):
        screen_delete(actor=request.user, screen=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            screen_delete(actor=request.user, screen=obj)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            form.base_fields["bindings"].initial = obj.bindings
        return form

    def get_changeform_initial_data(self, request):
        return {"bindings": json.dumps([])}
