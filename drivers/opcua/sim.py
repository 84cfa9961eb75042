"""A simulated OPC UA server (asyncua): the demo plant for `make run`, and a real server for tests and the bench.

`OpcuaSim` serves variables under one namespace (`urn:kiln:opcuasim`), NodeIds `ns=<idx>;s=<name>`, in a
folder tree built from the dotted names (`pump-01.Speed` is Objects/Plant/pump-01/Speed), so the admin browse
view has something to walk. Variables given as writable accept client writes. Tests set values and status
codes from the server side (`set`), stop and start the server to cut the session, and clamp written values
(`clamp`, as a PLC with setpoint limits does).

`DemoPlant` runs the Modbus simulator's process model (drivers.plcsim.DemoProcess) on an in-memory register
image and mirrors it into the OPC UA variables every tick: a second demo connection reads the same plant over
OPC UA. A client's write to a setpoint or command lands in the image before the next tick.

The server's value changes are made cheap by drivers.opcua.simspeed (installed when a simulator starts).
Variables are best given in folders of at most a few hundred (`B.g12.v1234`): asyncua checks a new node
against all of its parent's references, so 10,000 under one folder take minutes to add.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

from asyncua import Server, ua

from drivers.opcua import simspeed
from drivers.plcsim import DEMO_MAP, DemoProcess

logger = logging.getLogger(__name__)

__all__ = ["OpcuaSim", "SimThread", "DemoPlant", "NAMESPACE", "DEMO_VARIABLES", "serve_in_thread"]

NAMESPACE = "urn:kiln:opcuasim"


def _demo_variant(e) -> str:
    if e.data_type == "bool":
        return "Boolean"
    if e.data_type == "string":
        return "String"
    if e.tag == "Run_Hours":
        return "UInt32"
    return "Double" if e.scaling else "Float"


# name → (initial value, OPC UA type, writable by clients). The demo's writable points are the Modbus
# simulator's writable tables (coils and holding registers).
DEMO_VARIABLES = {e.tag: ({"Boolean": False, "String": ""}.get(_demo_variant(e), 0), _demo_variant(e),
                          e.table in ("coil", "holding")) for e in DEMO_MAP}


class OpcuaSim:
    """An asyncua server with `variables` (see the module docstring); start()/stop() on its own loop."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 4840, variables: dict | None = None,
                 pki_dir: str | None = None):
        self.host, self.port = host, port
        self.pki_dir = pki_dir  # given: also offer Basic256Sha256 Sign and SignAndEncrypt, with a certificate here
        self.certificate_der: bytes | None = None
        self.variables = dict(variables if variables is not None else DEMO_VARIABLES)
        self.server: Server | None = None
        self.nodes: dict[str, object] = {}
        self.ns = 2
        self.clamp: dict[str, tuple[float, float]] = {}
        self.writes: list[tuple[str, object]] = []
        self._internal = False  # True while the server side itself sets a value (not a client write)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/kiln"

    def node_id(self, name: str) -> str:
        return f"ns={self.ns};s={name}"

    async def start(self) -> None:
        simspeed.install()
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("Kiln OPC UA simulator")
        if self.pki_dir:
            await self._secure(server)
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.ns = await server.register_namespace(NAMESPACE)
        plant = await server.nodes.objects.add_folder(ua.NodeId("Plant", self.ns), ua.QualifiedName("Plant", self.ns))
        folders: dict[str, object] = {"": plant}
        for name, (initial, variant, writable) in self.variables.items():
            parent_path, _, leaf = name.rpartition(".")
            parent = await self._folder(folders, parent_path)
            node = await parent.add_variable(ua.NodeId(name, self.ns), ua.QualifiedName(leaf, self.ns),
                                             ua.Variant(initial, ua.VariantType[variant]))
            if writable:
                await node.set_writable()
            self.nodes[name] = node
        for name, node in self.nodes.items():
            if self.variables[name][2]:
                server.set_attribute_value_setter(node.nodeid, self._setter(name, server))
        await server.start()
        self.server = server

    async def _secure(self, server: Server) -> None:
        from pathlib import Path

        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        key, cert = Path(self.pki_dir) / "sim-key.pem", Path(self.pki_dir) / "sim-cert.der"
        await setup_self_signed_certificate(key, cert, server.get_application_uri(), self.host,
                                            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], {})
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        self.certificate_der = cert.read_bytes()
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity, ua.SecurityPolicyType.Basic256Sha256_Sign,
                                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])

    def _setter(self, name: str, server: Server):
        """Stores a written value; a client's write is clamped like a PLC's setpoint limits, and remembered."""

        def setter(node, attr, dv: ua.DataValue) -> None:
            value = dv.Value.Value if dv.Value is not None else None
            limits = self.clamp.get(name) if not self._internal else None
            if limits is not None and isinstance(value, int | float) and not isinstance(value, bool):
                clamped = type(value)(min(max(value, limits[0]), limits[1]))
                if clamped != value:
                    dv = ua.DataValue(ua.Variant(clamped, dv.Value.VariantType), SourceTimestamp=datetime.now(UTC),
                                      ServerTimestamp=datetime.now(UTC))
                    value = clamped
                    # Subscribers were told the value as written: tell them the clamped one too.
                    asyncio.ensure_future(self._rewrite(server, node.nodeid, dv))
            node.attributes[attr].value = dv
            node.attributes[attr].value_callback = None
            if not self._internal:
                self.writes.append((name, value))

        return setter

    async def _rewrite(self, server: Server, nodeid, dv) -> None:
        self._internal = True
        try:
            await server.write_attribute_value(nodeid, dv)
        finally:
            self._internal = False

    async def _folder(self, folders: dict, path: str):
        if path in folders:
            return folders[path]
        parent_path, _, leaf = path.rpartition(".")
        parent = await self._folder(folders, parent_path)
        folder = await parent.add_folder(ua.NodeId(f"{path}/", self.ns), ua.QualifiedName(leaf, self.ns))
        folders[path] = folder
        return folder

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    async def set(self, name: str, value=None, *, status: int = 0, source_time: datetime | None = None) -> None:
        """Set a variable from the server side (as the device would), with a status code and source time."""
        node = self.nodes[name]
        variant = ua.VariantType[self.variables[name][1]]
        dv = ua.DataValue(ua.Variant(value, variant) if value is not None else ua.Variant(),
                          StatusCode=ua.StatusCode(status),
                          SourceTimestamp=source_time or datetime.now(UTC), ServerTimestamp=datetime.now(UTC))
        self._internal = True
        try:
            await self.server.write_attribute_value(node.nodeid, dv)
        finally:
            self._internal = False

    async def get(self, name: str):
        return await self.nodes[name].read_value()


class SimThread:
    """An OpcuaSim served from its own event loop in a daemon thread (tests, the bench, in-process)."""

    def __init__(self, sim: OpcuaSim):
        self.sim = sim
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name=f"opcuasim-{sim.port}")
        self.thread.start()

    def call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> SimThread:
        self.call(self.sim.start())
        return self

    def set(self, name: str, value=None, **kwargs) -> None:
        self.call(self.sim.set(name, value, **kwargs))

    def get(self, name: str):
        return self.call(self.sim.get(name))

    def stop(self) -> None:
        """Stop serving (clients lose their session); start() serves again on the same port."""
        self.call(self.sim.stop())

    def close(self) -> None:
        if self.thread.is_alive():
            try:
                self.stop()
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(10)


def serve_in_thread(**kwargs) -> SimThread:
    return SimThread(OpcuaSim(**kwargs)).start()


class _RegisterImage:
    """The part of drivers.plcsim.SimulatedPlc that DemoProcess uses (get/set), on plain lists."""

    def __init__(self, size: int = 200):
        self.tables = {t: [0] * size for t in ("holding", "input")} | {t: [False] * size for t in ("coil", "discrete")}

    def get(self, table: str, address: int, count: int = 1) -> list:
        return list(self.tables[table][address:address + count])

    def set(self, table: str, address: int, values: list) -> None:
        bits = table in ("coil", "discrete")
        for i, v in enumerate(values):
            self.tables[table][address + i] = bool(v) if bits else int(v) & 0xFFFF


class DemoPlant:
    """The demo plant's process model behind an OpcuaSim (see the module docstring)."""

    def __init__(self, sim: OpcuaSim, *, seed: int | None = None):
        self.sim = sim
        self.image = _RegisterImage()
        self.process = DemoProcess(self.image, seed=seed)
        self.published: dict[str, object] = {}

    def _value(self, name: str):
        value = self.process._get(name)
        variant = self.sim.variables[name][1]
        if variant == "UInt32":
            return int(value)
        if variant in ("Float", "Double"):
            return float(value)
        return value

    async def _pull_writes(self) -> None:
        for name, (_, _, writable) in self.sim.variables.items():
            if not writable:
                continue
            current = await self.sim.get(name)
            if name in self.published and current != self.published[name]:
                self.process._put(name, current)  # a client wrote it: the plant takes it on this tick

    async def _publish(self) -> None:
        for name in self.sim.variables:
            value = self._value(name)
            if self.published.get(name) != value:
                await self.sim.set(name, value)
                self.published[name] = value if self.sim.variables[name][1] != "Float" else \
                    await self.sim.get(name)

    async def run(self) -> None:
        self.process.initialise()
        await self._publish()
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.process.TICK)
            now = time.monotonic()
            try:
                await self._pull_writes()
                self.process.step(now - last)
                await self._publish()
            except Exception:  # noqa: BLE001 - a model bug must not take the server down
                logger.exception("opcuasim: process model step failed")
            last = now
