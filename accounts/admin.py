"""Django admin for users (Admin only), a read-only audit trail and read-only e-signatures."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.audit import audit_record
from accounts.models import ApiKey, AuditCheckpoint, AuditRecord, Signature, User
from scada.admin import ReadOnlyModelAdmin


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "role", "is_active", "is_integration", "last_login"]
    list_filter = ["role", "is_active", "is_integration"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("role", "is_active", "is_integration", "locked_until", "failed_login_count")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "role", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined", "failed_login_count"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        from accounts import tokens

        audit_record(action="user.update" if change else "user.create", user=request.user, object_type="user",
                     object_id=obj.pk, new_value={k: form.cleaned_data.get(k) for k in form.changed_data
                                                  if "password" not in k}, reason="Django admin")
        if not change:
            return
        if {"is_active", "password"} & set(form.changed_data):
            tokens.revoke_user_tokens(obj.pk)
            tokens.forget_api_keys(list(obj.api_keys.values_list("key_hash", flat=True)))
        elif "role" in form.changed_data:
            # The same rule as the users API: old access tokens lose the old role, refresh gets the new one.
            tokens.revoke_user_access_tokens(obj.pk)
            tokens.forget_api_keys(list(obj.api_keys.values_list("key_hash", flat=True)))

    def user_change_password(self, request, id, form_url=""):
        # Django's own password form saves outside save_model: end the user's sessions and audit it here.
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            from accounts import tokens

            tokens.revoke_user_tokens(int(id))
            audit_record(action="user.update", user=request.user, object_type="user", object_id=id,
                         new_value={"password": "(changed)"}, reason="Django admin")
        return response

    def has_delete_permission(self, request, obj=None):
        return False  # accounts are disabled, never deleted: the audit trail refers to them


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyModelAdmin):
    """Keys are created (shown once) and revoked through the API, whose services audit both; admin only shows them."""

    list_display = ["name", "prefix", "user", "created", "revoked_at"]
    readonly_fields = ["prefix", "key_hash", "user", "name", "created_by", "revoked_at", "last_used_at"]


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "seq", "ts", "username", "action", "object_type", "object_id", "reason"]
    list_filter = ["action", "object_type"]
    search_fields = ["username", "object_id", "reason", "request_id"]
    date_hierarchy = "ts"


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyModelAdmin):
    """Read-only: `manage.py audit_checkpoint` and its task sign them."""

    list_display = ["seq", "created", "head_hash"]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyModelAdmin):
    """Read-only: signatures are made by accounts.signatures and never edited or deleted (Part 11)."""

    list_display = ["id", "signed_at", "printed_name", "signer_username", "meaning", "object_type", "object_id"]
    list_filter = ["meaning", "object_type"]
    search_fields = ["signer_username", "printed_name", "object_id", "reason", "content_hash"]
    date_hierarchy = "signed_at"
