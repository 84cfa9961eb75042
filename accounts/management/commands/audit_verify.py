"""manage.py audit_verify: walks the whole audit trail and reports every broken link; non-zero exit on any."""

from django.core.management.base import BaseCommand, CommandError

from accounts.audit_integrity import audit_checkpoints_load, audit_verify


class Command(BaseCommand):
    help = ("Verify the audit trail: hash chain, gapless seq, hash schemes, and signed checkpoints (the stored ones "
            "and any --checkpoint file or directory kept outside the database). Exits non-zero on any break.")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", action="append", default=[], metavar="PATH",
                            help="a checkpoint file (JSON lines) or a directory of *.json; may be repeated")

    def handle(self, *args, checkpoint, **options):
        given = [cp for path in checkpoint for cp in audit_checkpoints_load(path=path)]
        report = audit_verify(checkpoints=given)
        for brk in report.breaks:
            where = f"record #{brk.record_id} (seq {brk.seq})" if brk.record_id is not None else (
                f"seq {brk.seq}" if brk.seq is not None else "trail")
            self.stderr.write(f"BROKEN {where}: {brk.why}")
        summary = (f"{report.checked} records checked, head at seq {report.head_seq}, "
                   f"{report.checkpoints} checkpoints checked, {len(report.breaks)} broken links.")
        if report.breaks:
            raise CommandError(f"Audit trail NOT intact: {summary}")
        self.stdout.write(self.style.SUCCESS(f"Audit trail intact: {summary}"))
        if report.unkeyed:
            self.stdout.write(self.style.WARNING(
                f"{report.unkeyed} records predate keyed hashing (plain SHA-256); a keyed legacy seal vouches for "
                f"exactly these."))
