"""Admin base classes every app shares (the audited base lives in accounts.admin_base, beside the audit trail)."""

from django.contrib import admin

__all__ = ["ReadOnlyModelAdmin"]


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """A record that admin shows but never adds, edits or deletes: journals, trails, checkpoints, runtime state.

    Such rows change only through their services (journaled and audited); a form would bypass both. Admin
    actions declared on a subclass still run, since they call those services.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
