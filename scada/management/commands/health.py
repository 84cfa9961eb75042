"""manage.py health [drivers] [historian] [alarms] [--node NAME] [--json]: exit 0 when healthy, 1 when not.

For systemd, containers (HEALTHCHECK) and monitoring agents; see scada/health.py and docs/deployment.md.
"""

import json

from django.core.management.base import BaseCommand

from scada.health import celery_node_health, health_run


class Command(BaseCommand):
    help = "Check that background work (drivers' poll loops, historian writer, alarm timers) is alive and current."
    requires_system_checks: list = []  # a health probe runs often: no system checks, no migrations look-up

    def add_arguments(self, parser):
        parser.add_argument("checks", nargs="*", help="Only these checks (drivers, historian, alarms); default all.")
        parser.add_argument("--node", action="append", default=[],
                            help="A Celery worker's name (e.g. drivers@plc-host-1) that must answer a ping.")
        parser.add_argument("--json", action="store_true", help="One JSON object instead of lines.")

    def handle(self, *args, **options):
        results = health_run(options["checks"] or None)
        results += [celery_node_health(node) for node in options["node"]]
        unknown = set(options["checks"]) - {h.name for h in results}
        if unknown:
            self.stderr.write(f"unknown check(s): {', '.join(sorted(unknown))}")
            raise SystemExit(2)
        healthy = all(h.ok for h in results)
        if options["json"]:
            self.stdout.write(json.dumps({"healthy": healthy, "checks": [
                {"name": h.name, "ok": h.ok, "detail": h.detail, **h.facts} for h in results]}, default=str))
        else:
            for h in results:
                self.stdout.write(f"{h.name}: {'ok' if h.ok else 'FAIL'} - {h.detail}")
        if not healthy:
            raise SystemExit(1)
