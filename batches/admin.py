"""Django admin: recipes (Engineer+) with their parameters and phases, approval by e-signature; batches read-only.

A draft is edited here; an approved or retired version is read-only (its approval signed its content). Approval
is a page of its own (password, meaning, reason) that calls batches.services.recipe_approve; "new version"
copies a frozen recipe into the next draft.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin_base import AuditedModelAdmin
from batches import services
from batches.models import (
    Batch,
    BatchComment,
    BatchDeviation,
    BatchParameter,
    BatchPhase,
    Recipe,
    RecipeParameter,
    RecipePhase,
)
from scada.admin import ReadOnlyModelAdmin
from scada.errors import KilnError


class _FrozenInlineMixin:
    def _editable(self, obj):
        return obj is None or not obj.is_frozen

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class RecipeParameterInline(_FrozenInlineMixin, admin.TabularInline):
    model = RecipeParameter
    extra = 0
    fields = ["position", "name", "datatype", "unit", "min_value", "max_value", "default", "target_tag", "description"]
    autocomplete_fields = ["target_tag"]  # a searchable picker (name, description, machine, member), not an id box


class RecipePhaseInline(_FrozenInlineMixin, admin.StackedInline):
    model = RecipePhase
    extra = 0
    fields = [("position", "name", "requirement"), "instructions", ("value_label", "value_unit", "value_min",
                                                                     "value_max")]


class ApprovalForm(forms.Form):
    """The approver's e-signature: password re-verified (§11.200), meaning and reason recorded (§11.50)."""

    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    meaning = forms.CharField(max_length=200, initial="Approved")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


@admin.register(Recipe)
class RecipeAdmin(AuditedModelAdmin):
    audit_object_type = "recipe"
    list_display = ["name", "version", "title", "status", "approved_at", "requires_verification"]
    list_filter = ["status", "requires_verification"]
    search_fields = ["name", "title"]
    filter_horizontal = ["machines", "recorded_tags"]
    inlines = [RecipeParameterInline, RecipePhaseInline]
    readonly_fields = ["status", "created_by", "approved_at", "approval", "retired_at"]
    fields = ["name", "version", "title", "description", "machines", "recorded_tags", "requires_verification",
              "status", "created_by", "approval", "approved_at", "retired_at"]
    actions = ["retire", "new_version"]
    change_form_template = "admin/batches/recipe/change_form.html"

    def audit_id(self, obj) -> str:
        return f"{obj.name}@{obj.version}"

    @admin.display(description="Approval signature")
    def approval(self, obj):
        s = obj.approval_signature
        return f"{s.printed_name} ({s.signer_username}), {s.meaning}, {s.signed_at:%Y-%m-%d %H:%M:%S} UTC" if s else "-"

    def has_change_permission(self, request, obj=None):
        return (obj is None or not obj.is_frozen) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # A version that was approved may be named by batch records; a draft may go.
        return (obj is None or not obj.is_frozen) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [path("<path:object_id>/approve/", self.admin_site.admin_view(self.approve_view),
                     name="batches_recipe_approve"), *super().get_urls()]

    def approve_view(self, request, object_id):
        recipe = get_object_or_404(Recipe, pk=object_id)
        if not self.has_view_permission(request, recipe):
            raise PermissionDenied
        form = ApprovalForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.recipe_approve(recipe=recipe, user=request.user, **form.cleaned_data)
            except KilnError as exc:
                messages.error(request, exc.detail)
            else:
                messages.success(request, f"Recipe {recipe.name} v{recipe.version} approved.")
                return redirect(reverse("admin:batches_recipe_change", args=[recipe.pk]))
        context = {**self.admin_site.each_context(request), "title": f"Approve {recipe}", "recipe": recipe,
                   "form": form, "problems": services.recipe_problems(recipe) if not recipe.is_frozen else [],
                   "opts": self.model._meta, "original": recipe}
        return TemplateResponse(request, "admin/batches/recipe/approve.html", context)

    @admin.action(description="Retire selected approved versions")
    def retire(self, request, queryset):
        for recipe in queryset:
            try:
                services.recipe_retire(recipe=recipe, user=request.user, reason="Retired in Django admin")
            except KilnError as exc:
                messages.error(request, exc.detail)

    @admin.action(description="Create a new draft version of each selected recipe")
    def new_version(self, request, queryset):
        for recipe in queryset:
            draft = services.recipe_new_version(recipe=recipe, user=request.user)
            messages.success(request, f"Created {draft}.")


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class BatchParameterInline(_ReadOnlyInline):
    model = BatchParameter
    fields = ["name", "planned", "value", "tag_name", "write_audit_id", "confirmed", "written_at"]
    readonly_fields = fields


class BatchPhaseInline(_ReadOnlyInline):
    model = BatchPhase
    fields = ["position", "status", "started_at", "completed_at", "completed_by_name", "value", "signature"]
    readonly_fields = fields


class BatchCommentInline(_ReadOnlyInline):
    model = BatchComment
    fields = ["created", "author_name", "phase_position", "text"]
    readonly_fields = fields


class BatchDeviationInline(_ReadOnlyInline):
    model = BatchDeviation
    fields = ["created", "reported_by_name", "phase_position", "severity", "description"]
    readonly_fields = fields


@admin.register(Batch)
class BatchAdmin(ReadOnlyModelAdmin):
    """Batches change only through their services (audited); here they are shown, never edited."""

    list_display = ["id", "lot", "recipe", "machine", "status", "started_by", "started_at", "closed_at"]
    list_filter = ["status", "recipe__name", "machine"]
    search_fields = ["lot", "recipe__name", "machine__machine_id"]
    list_select_related = ["recipe", "machine", "started_by"]
    inlines = [BatchParameterInline, BatchPhaseInline, BatchCommentInline, BatchDeviationInline]
