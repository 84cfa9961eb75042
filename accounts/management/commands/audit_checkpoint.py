"""manage.py audit_checkpoint: signs the audit chain head, stores it, prints it and optionally writes it out."""

from pathlib import Path

from django.core.management.base import BaseCommand

from accounts.audit_integrity import audit_checkpoint_create


class Command(BaseCommand):
    help = ("Write a signed checkpoint {seq, hash, ts, sig} of the audit chain head: stored in the database, printed "
            "as one JSON line, and written to --output FILE or into KILN_AUDIT_CHECKPOINT_DIR. Keep copies outside "
            "the database: `audit_verify --checkpoint FILE` then notices the newest records being deleted.")

    def add_arguments(self, parser):
        parser.add_argument("--output", metavar="FILE", help="also write the checkpoint to this file")
        parser.add_argument("--dir", dest="export_dir", metavar="DIR",
                            help="export directory (default KILN_AUDIT_CHECKPOINT_DIR)")

    def handle(self, *args, output=None, export_dir=None, **options):
        checkpoint, path = audit_checkpoint_create(export_dir=export_dir)
        line = checkpoint.to_json()
        if output:
            Path(output).write_text(line + "\n")
        self.stdout.write(line)
        for written in (path, output):
            if written:
                self.stderr.write(f"written to {written}")
