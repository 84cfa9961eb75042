"""manage.py demo_load: the demo plant (users, site, machines, tags, alarms, screens). Idempotent."""

from django.core.management.base import BaseCommand
from django.utils.module_loading import autodiscover_modules

from scada.demo import DEMO_LOADERS


class Command(BaseCommand):
    help = "Load the demo plant. Safe to run again: existing objects are kept."

    def handle(self, *args, **options):
        autodiscover_modules("demo")
        for _order, name, loader in sorted(DEMO_LOADERS, key=lambda item: (item[0], item[1])):
            summary = loader()
            self.stdout.write(f"demo: {name}: {summary or 'ok'}")
