"""manage.py opcuasim: the demo plant over OPC UA (an asyncua server mirroring the simulated process model)."""

from drivers.management.simulator import SimulatorCommand


class Command(SimulatorCommand):
    help = "Run the OPC UA simulator of the demo plant (opc.tcp://HOST:PORT/kiln). Ctrl-C stops it."
    env_prefix = "OPCUASIM"
    default_port = 4840

    async def serve(self, host, port, seed):
        import logging

        from django.conf import settings

        from drivers.opcua.sim import DemoPlant, OpcuaSim  # asyncua is imported only when this command runs

        logging.getLogger("asyncua").setLevel(settings.KILN_OPCUA_LOG_LEVEL)
        sim = OpcuaSim(host=host, port=port)
        await self.start(sim, host, port)
        self.announce(f"opcuasim: OPC UA on {sim.endpoint} (namespace {sim.ns}, {len(sim.nodes)} variables); "
                      f"process model running")
        await DemoPlant(sim, seed=seed).run()
