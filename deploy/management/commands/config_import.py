"""manage.py config_import DIR [--dry-run]: show the diff of a bundle against this instance, then apply it."""

import json

from django.core.management.base import BaseCommand, CommandError

from deploy.bundle import bundle_read_path
from deploy.services import config_import
from scada.errors import KilnError


class Command(BaseCommand):
    help = ("Import a configuration bundle (a directory from config_export, or one .json file). Prints the diff "
            "(added/changed/removed per section, field by field); without --dry-run applies it in one transaction, "
            "audited. A bundle with any problem changes nothing and every problem is listed.")

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="DIR")
        parser.add_argument("--dry-run", action="store_true", help="show the diff only")
        parser.add_argument("--reason", default="", help="recorded in the audit trail")
        parser.add_argument("--json", action="store_true", help="print the diff as JSON")

    def handle(self, *args, path, dry_run=False, reason="", json=False, **options):  # noqa: A002
        try:
            result = config_import(bundle=bundle_read_path(path), user=None, dry_run=dry_run, reason=reason,
                                   source="manage.py", username="manage.py")
        except KilnError as exc:
            for p in exc.extra.get("problems", []):
                self.stderr.write(f"{p['file']}: {p['key']}: {p['problem']}")
            raise CommandError(exc.detail)
        if json:
            self.stdout.write(_json(result))
            return
        for name, d in result["sections"].items():
            for key in d["added"]:
                self.stdout.write(f"+ {name} {key}")
            for change in d["changed"]:
                for field, v in change["fields"].items():
                    self.stdout.write(f"~ {name} {change['key']} {field}: {v['old']!r} -> {v['new']!r}")
            for key in d["removed"]:
                self.stdout.write(f"- {name} {key}")
        verb = "applied" if result["applied"] else ("dry run" if dry_run else "nothing to apply")
        self.stdout.write(f"{result['detail']} ({verb})")


def _json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
