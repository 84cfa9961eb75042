"""The shared half of the device simulators' management commands (manage.py plcsim, manage.py opcuasim)."""

import asyncio
import os

from django.core.management.base import BaseCommand, CommandError

__all__ = ["SimulatorCommand"]


class SimulatorCommand(BaseCommand):
    """--host/--port/--seed from the command line or `<ENV_PREFIX>_HOST/_PORT`; runs `serve()` until Ctrl-C."""

    env_prefix = ""
    default_port = 0
    # A device stand-in needs no URLs, admin or database: start fast, and regardless of the web app's state.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get(f"{self.env_prefix}_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=None,
                            help=f"TCP port (default: ${self.env_prefix}_PORT or {self.default_port})")
        parser.add_argument("--seed", type=int, default=None, help="Noise seed, for a reproducible run")

    def handle(self, *args, **options):
        port = options["port"] or int(os.environ.get(f"{self.env_prefix}_PORT") or self.default_port)
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be 1–65535, got {port}")
        try:
            asyncio.run(self.serve(options["host"], port, options["seed"]))
        except KeyboardInterrupt:
            pass

    async def serve(self, host: str, port: int, seed: int | None) -> None:
        raise NotImplementedError

    async def start(self, server, host: str, port: int) -> None:
        """Start a simulator's server, turning a port in use into a clear command error."""
        try:
            await server.start()
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}")

    def announce(self, text: str) -> None:
        # Flushed at once: make run and the tests wait for this line to know the simulator is up.
        self.stdout.write(text, ending="\n")
        self.stdout.flush()
