"""manage.py config_csv export|import SECTION FILE: bulk edit tags, bindings or alarm definitions as CSV."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from deploy.csvbulk import csv_export, csv_import
from scada.errors import KilnError


class Command(BaseCommand):
    help = ("CSV bulk editing: `export tags tags.csv`, edit in a spreadsheet, `import tags tags.csv --dry-run` shows "
            "the diff, without --dry-run it is applied (one transaction, audited). Rows update or add items; "
            "--remove-missing also removes items without a row.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export", "import"])
        parser.add_argument("section", help="tags, bindings or alarm_definitions")
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--remove-missing", action="store_true")
        parser.add_argument("--reason", default="")

    def handle(self, *args, action, section, file, dry_run=False, remove_missing=False, reason="", **options):
        try:
            if action == "export":
                Path(file).write_text(csv_export(section=section), encoding="utf-8")
                self.stdout.write(f"exported {section} to {file}")
                return
            try:
                text = Path(file).read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not part of the header
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{file}: {exc}")
            result = csv_import(section=section, text=text, user=None, dry_run=dry_run,
                                remove_missing=remove_missing, reason=reason, username="manage.py")
        except KilnError as exc:
            for p in exc.extra.get("problems", []):
                self.stderr.write(f"{p['key']}: {p['problem']}")
            raise CommandError(exc.detail)
        for d in result["sections"].values():
            for key in d["added"]:
                self.stdout.write(f"+ {key}")
            for change in d["changed"]:
                for name, v in change["fields"].items():
                    self.stdout.write(f"~ {change['key']} {name}: {v['old']!r} -> {v['new']!r}")
            for key in d["removed"]:
                self.stdout.write(f"- {key}")
        self.stdout.write(f"{result['detail']} ({'applied' if result['applied'] else 'not applied'})")
