"""manage.py sparkplugsim: the demo plant as a Sparkplug B edge node publishing to an MQTT broker."""

import os
import threading

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Run a Sparkplug B edge node publishing the demo plant (group kiln-demo, node plant, a device per pump) "
            "to an MQTT broker. Ctrl-C stops it (with its NDEATH).")
    # A device stand-in needs no URLs, admin or database: start fast, and regardless of the web app's state.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("SPARKPLUGSIM_BROKER_HOST", "127.0.0.1"),
                            help="MQTT broker host (default: $SPARKPLUGSIM_BROKER_HOST or 127.0.0.1)")
        parser.add_argument("--port", type=int, default=None, help="broker port (default: $MQTT_PORT or 1883)")
        parser.add_argument("--group", default="kiln-demo", help="Sparkplug group id")
        parser.add_argument("--node", default="plant", help="Sparkplug edge node id")
        parser.add_argument("--seed", type=int, default=None, help="Noise seed, for a reproducible run")

    def handle(self, *args, **options):
        from drivers.sparkplug.sim import DemoEdge

        port = options["port"] or int(os.environ.get("MQTT_PORT") or 1883)
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be 1–65535, got {port}")
        edge = DemoEdge(group=options["group"], node=options["node"], seed=options["seed"], host=options["host"],
                        port=port)
        try:
            edge.start()
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"cannot reach the MQTT broker at {options['host']}:{port}: {exc}")
        metrics = sum(len(m) for m in edge.metrics.values())
        self.stdout.write(f"sparkplugsim: edge node spBv1.0/{edge.group}/{edge.node} on {options['host']}:{port} "
                          f"({metrics} metrics, devices {', '.join(d for d in edge.metrics if d)}); process model "
                          f"running")
        self.stdout.flush()
        stop = threading.Event()
        try:
            edge.run(stop)
        except KeyboardInterrupt:
            pass
        finally:
            edge.stop()
