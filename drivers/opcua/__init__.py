"""The OPC UA driver: session (asyncua on its own loop thread), loop, quality mapping, backend, simulator.

docs/drivers.md describes it for engineers; drivers.backends the contract it fulfils.
"""
