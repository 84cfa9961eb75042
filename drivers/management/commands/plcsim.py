"""manage.py plcsim: the demo plant's simulated PLC (a pymodbus TCP server with a live process model)."""

import asyncio
import os

from django.core.management.base import BaseCommand, CommandError

from drivers.plcsim import DemoProcess, SimulatedPlc


class Command(BaseCommand):
    help = "Run the simulated PLC of the demo plant (Modbus TCP). Ctrl-C stops it."
    # A PLC stand-in needs no URLs, admin or database: start fast, and regardless of the web app's state.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PLCSIM_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=None, help="TCP port (default: $PLCSIM_PORT or 5020)")
        parser.add_argument("--seed", type=int, default=None, help="Noise seed, for a reproducible run")

    def handle(self, *args, **options):
        port = options["port"] or int(os.environ.get("PLCSIM_PORT") or 5020)
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be 1–65535, got {port}")
        try:
            asyncio.run(self._serve(options["host"], port, options["seed"]))
        except KeyboardInterrupt:
            pass

    async def _serve(self, host, port, seed):
        plc = SimulatedPlc(host=host, port=port, size=200)
        try:
            await plc.start()
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}")
        self.stdout.write(f"plcsim: Modbus TCP on {host}:{port} (any unit id); process model running", ending="\n")
        self.stdout.flush()
        await DemoProcess(plc, seed=seed).run()
