"""manage.py audit_verify: checks the audit trail's hash chain and reports the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import audit_unkeyed_count, audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail hash chain; exits non-zero at the first broken link."

    def handle(self, *args, **options):
        checked, broken, why = audit_verify()
        if broken is not None:
            raise CommandError(f"Audit chain broken at record #{broken.pk} ({broken}): {why}. "
                               f"{checked} records before it verified.")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {checked} records verified."))
        unkeyed = audit_unkeyed_count()
        if unkeyed:
            self.stdout.write(self.style.WARNING(
                f"{unkeyed} of them predate keyed hashing (plain SHA-256): their chain is intact, but someone "
                f"with write access to the database could have rewritten them consistently."))
