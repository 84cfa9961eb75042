"""manage.py config_export DIR: the whole configuration as a bundle directory (or one file with --file)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from accounts.audit import audit_record
from deploy.bundle import bundle_dumps, bundle_export, bundle_write_dir


class Command(BaseCommand):
    help = ("Export the configuration (sites, device types, machines, tags, driver connections and bindings, alarm "
            "definitions, screens) as a bundle: DIR/kiln-bundle.json plus one <section>.json per section, or one "
            "file when DIR ends in .json. Secrets are never exported.")

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="DIR", help="directory to write (created if missing), or FILE.json")

    def handle(self, *args, path, **options):
        bundle = bundle_export()
        target = Path(path)
        if target.suffix == ".json":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(bundle_dumps(bundle))
        else:
            bundle_write_dir(bundle, target)
        counts = {name: len(items) for name, items in bundle["sections"].items()}
        audit_record(action="config.export", username="manage.py", object_type="config", object_id=str(target),
                     new_value=counts)
        self.stdout.write(f"exported to {target}: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
