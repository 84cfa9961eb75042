"""Configuration versions in admin, read-only: who deployed what, when, from where, and what changed."""

import json

from django.contrib import admin
from django.utils.html import format_html

from deploy.models import ConfigVersion
from scada.admin import ReadOnlyModelAdmin

# The diff shown on a version's page is cut here: a first import of 20,000 tags lists 20,000 keys.
DIFF_SHOWN_CHARS = 20_000


@admin.register(ConfigVersion)
class ConfigVersionAdmin(ReadOnlyModelAdmin):
    """Versions are written only by deploys and rollbacks (deploy.deploys); admin shows them and their diffs."""

    list_display = ["number", "kind", "created", "deployed_by", "source", "target", "changes", "summary"]
    list_filter = ["kind"]
    search_fields = ["deployed_by", "source", "comment", "summary"]
    exclude = ["bundle", "diff"]
    readonly_fields = ["number", "kind", "created", "deployed_by", "source", "target", "comment", "base_version",
                       "rolled_back_to", "changes", "summary", "bundle_sha256", "signature", "changes_field_by_field"]

    @admin.display(description="changes, field by field")
    def changes_field_by_field(self, obj):
        lines = []
        for section, d in (obj.diff or {}).get("sections", {}).items():
            lines += [f"+ {section} {key}" for key in d.get("added", [])]
            for change in d.get("changed", []):
                lines += [f"~ {section} {change['key']} {name}: {json.dumps(v['old'])} → {json.dumps(v['new'])}"
                          for name, v in change.get("fields", {}).items()]
            lines += [f"- {section} {key}" for key in d.get("removed", [])]
        text = "\n".join(lines) or "no changes"
        if len(text) > DIFF_SHOWN_CHARS:
            text = text[:DIFF_SHOWN_CHARS] + f"\n… ({len(lines)} lines in all)"
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", text)
