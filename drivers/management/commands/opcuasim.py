"""manage.py opcuasim: the demo plant over OPC UA (an asyncua server mirroring the simulated process model)."""

import asyncio
import os

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the OPC UA simulator of the demo plant (opc.tcp://HOST:PORT/kiln). Ctrl-C stops it."
    # A device stand-in needs no URLs, admin or database: start fast, and regardless of the web app's state.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("OPCUASIM_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=None, help="TCP port (default: $OPCUASIM_PORT or 4840)")
        parser.add_argument("--seed", type=int, default=None, help="Noise seed, for a reproducible run")

    def handle(self, *args, **options):
        port = options["port"] or int(os.environ.get("OPCUASIM_PORT") or 4840)
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be 1–65535, got {port}")
        try:
            asyncio.run(self._serve(options["host"], port, options["seed"]))
        except KeyboardInterrupt:
            pass

    async def _serve(self, host, port, seed):
        import logging

        from django.conf import settings

        from drivers.opcua.sim import DemoPlant, OpcuaSim

        logging.getLogger("asyncua").setLevel(settings.KILN_OPCUA_LOG_LEVEL)
        sim = OpcuaSim(host=host, port=port)
        try:
            await sim.start()
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}")
        self.stdout.write(f"opcuasim: OPC UA on {sim.endpoint} (namespace {sim.ns}, {len(sim.nodes)} variables); "
                          f"process model running", ending="\n")
        self.stdout.flush()
        await DemoPlant(sim, seed=seed).run()
