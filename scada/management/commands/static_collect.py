"""`manage.py static_collect`: collectstatic, but only when the static files changed since the last collection.

The production start (scripts/serve.sh) runs it every time the web process starts. A full collectstatic hashes
and compresses (brotli and gzip) every file: ~30 s of CPU, which a restart after a crash or a failover should not
pay when nothing changed. What was collected is fingerprinted by every source file's path, size and mtime, as
Django's finders see them, plus the storage settings; the fingerprint is kept in STATIC_ROOT.
"""

import hashlib
import os

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand

STAMP = ".kiln-static-fingerprint"


def static_fingerprint() -> str:
    """A digest of every static source file (path, size, mtime) and the storage settings that shape the output."""
    digest = hashlib.sha256(repr((settings.STORAGES.get("staticfiles"), settings.STATIC_URL,
                                  getattr(settings, "WHITENOISE_SKIP_COMPRESS_EXTENSIONS", None))).encode())
    entries = []
    for finder in get_finders():
        for path, storage in finder.list([]):
            stat = os.stat(storage.path(path))
            entries.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode())
        digest.update(b"\n")
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Collect static files when they changed since the last collection (a fingerprint in STATIC_ROOT)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="collect even when nothing changed")

    def handle(self, *args, force=False, **options):
        stamp = os.path.join(settings.STATIC_ROOT, STAMP)
        fingerprint = static_fingerprint()
        try:
            with open(stamp) as f:
                current = f.read().strip() == fingerprint
        except OSError:
            current = False
        if current and not force:
            self.stdout.write("Static files unchanged since the last collection.")
            return
        # clear: collectstatic alone skips a source no newer (to the second) than its copy; a changed fingerprint
        # means the whole set is rebuilt anyway (hashing and compression redo every file).
        call_command("collectstatic", interactive=False, verbosity=0, clear=True)
        with open(stamp, "w") as f:  # written last: an interrupted collection is redone next start
            f.write(fingerprint + "\n")
        self.stdout.write(f"Static files collected into {settings.STATIC_ROOT}.")
