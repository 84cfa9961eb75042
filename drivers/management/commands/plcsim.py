"""manage.py plcsim: the demo plant's simulated PLC (a pymodbus TCP server with a live process model)."""

from drivers.management.simulator import SimulatorCommand
from drivers.plcsim import DemoProcess, SimulatedPlc


class Command(SimulatorCommand):
    help = "Run the simulated PLC of the demo plant (Modbus TCP). Ctrl-C stops it."
    env_prefix = "PLCSIM"
    default_port = 5020

    async def serve(self, host, port, seed):
        plc = SimulatedPlc(host=host, port=port, size=200)
        await self.start(plc, host, port)
        self.announce(f"plcsim: Modbus TCP on {host}:{port} (any unit id); process model running")
        await DemoProcess(plc, seed=seed).run()
