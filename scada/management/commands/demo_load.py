"""manage.py demo_load: the demo plant (users, site, machines, tags, alarms, screens). Idempotent."""

from django.core.management.base import BaseCommand

from scada.extensions import extension_list
from scada.redis import get_redis

# Redis state that belongs to one database: Kiln's own keys, and the Celery queues whose tasks name its rows.
_DATABASE_BOUND_PATTERNS = ("kiln:*", "default", "drivers", "celery", "unacked", "unacked_index")


class Command(BaseCommand):
    help = "Load the demo plant. Safe to run again: existing objects are kept."

    def add_arguments(self, parser):
        parser.add_argument(
            "--fresh-database", action="store_true",
            help="The database was just created: forget Redis state left by an earlier one (live values keyed by "
                 "tag ids that now name other tags, queued tasks, the historian buffer), in this Redis database.")

    def handle(self, *args, **options):
        if options["fresh_database"]:
            r = get_redis()
            removed = 0
            for pattern in _DATABASE_BOUND_PATTERNS:
                keys = list(r.scan_iter(match=pattern, count=1000))
                for i in range(0, len(keys), 500):
                    removed += r.delete(*keys[i:i + 500])
            self.stdout.write(f"demo: fresh database: {removed} Redis keys left by an earlier database removed")
        for _path, loader in extension_list("KILN_DEMO_LOADERS"):  # in order: later loaders use earlier rows
            summary = loader()
            self.stdout.write(f"demo: {loader.__name__.removeprefix('load_')}: {summary or 'ok'}")
