"""Engineer's diagnostics of a driver connection: a real connection test and the connection's address map.

`connection_test` opens its own short link to the PLC or server (never the poll loop's, which lives in a worker
process), proves it answers one request, closes it and says what happened in words an engineer can act on. It is
audited before it acts, like every command. `connection_address_map` lists every binding of a connection, sorted
by address (Modbus) or NodeId (OPC UA), with the overlaps and the free ranges between used addresses.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from dataclasses import dataclass

from accounts.audit import audit_record
from drivers import codec
from drivers.choices import Protocol
from drivers.models import Connection, MetricBinding, NodeBinding, TagBinding

__all__ = ["ConnectionTestResult", "connection_test", "connection_address_map", "TEST_TIMEOUT_CAP"]

TEST_TIMEOUT_CAP = 3.0  # seconds: an admin page must answer in seconds, whatever the connection's own timeout


@dataclass(frozen=True, slots=True)
class ConnectionTestResult:
    ok: bool
    detail: str
    elapsed_ms: float


def connection_test(*, connection: Connection, user) -> ConnectionTestResult:
    """Connect to the connection's PLC or server with a short timeout, make one request, report; audited.

    The attempt is audited before the link is opened (who asked, which address), its outcome after.
    """
    target = (connection.endpoint_url if connection.protocol == Protocol.OPCUA
              else f"{connection.host}:{connection.port}")
    audit_record(action="driver.connection_test", user=user, object_type="connection", object_id=connection.pk,
                 new_value={"name": connection.name, "protocol": connection.protocol, "target": target},
                 reason="Django admin")
    timeout = max(0.1, min(connection.timeout, TEST_TIMEOUT_CAP))
    started = time.monotonic()
    tester = {Protocol.MODBUS_TCP: _test_modbus, Protocol.OPCUA: _test_opcua}.get(connection.protocol, _test_tcp)
    try:
        ok, detail = tester(connection, timeout)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong is the answer the engineer needs
        ok, detail = False, f"{target}: {type(exc).__name__}: {exc}"
    result = ConnectionTestResult(ok, detail, round((time.monotonic() - started) * 1000.0, 1))
    audit_record(action="driver.connection_test_result", user=user, object_type="connection",
                 object_id=connection.pk, new_value={"ok": ok, "detail": detail[:500],
                                                     "elapsed_ms": result.elapsed_ms}, reason="Django admin")
    return result


def _test_modbus(c: Connection, timeout: float) -> tuple[bool, str]:
    from drivers.modbus import CommError, ModbusTransport, PlcException

    # Read what the loop reads first: the lowest bound address (holding 0 when nothing is bound yet).
    first = TagBinding.objects.filter(connection=c).order_by("table", "address").values_list("table", "address").first()
    table, address = first or ("holding", 0)
    transport = ModbusTransport(c.host, c.port, unit_id=c.unit_id, timeout=timeout, retries=0)
    try:
        try:
            transport.connect()
        except CommError:
            return False, (f"cannot connect to {c.host}:{c.port} within {timeout:g} s: nothing listens there, or a "
                           f"firewall drops the connection")
        try:
            values = transport.read(table, address, 1)
        except PlcException as exc:
            # The PLC answered: the network and unit id work, the address does not.
            return True, (f"connected to {c.host}:{c.port} (unit {c.unit_id}); the PLC answered, but refused the "
                          f"read of {table} {address}: {exc}")
        except CommError as exc:
            return False, (f"connected to {c.host}:{c.port}, but unit {c.unit_id} did not answer a read of {table} "
                           f"{address} within {timeout:g} s ({exc})")
        return True, f"connected to {c.host}:{c.port} (unit {c.unit_id}); read {table} {address} → {list(values)}"
    finally:
        transport.close()


def _test_opcua(c: Connection, timeout: float) -> tuple[bool, str]:
    import asyncio

    from asyncua import ua

    from drivers.opcua.backend import opcua_spec
    from drivers.opcua.session import OpcuaError, client_for

    spec = dataclasses.replace(opcua_spec(c), timeout=timeout)

    async def probe() -> str:
        client = await client_for(spec, error=OpcuaError, purpose="test")
        await client.connect()
        try:
            state = await client.nodes.server_state.read_value()
            build = await client.get_node(ua.ObjectIds.Server_ServerStatus_BuildInfo_ProductName).read_value()
        finally:
            await client.disconnect()
        return f"{build or 'the server'} answers, state {getattr(state, 'name', state)}"

    try:
        text = asyncio.run(asyncio.wait_for(probe(), timeout=timeout * 4 + 2))
    except OpcuaError as exc:
        return False, f"{c.endpoint_url}: {exc}"
    except (TimeoutError, OSError, ConnectionError) as exc:
        return False, f"no answer from {c.endpoint_url} within {timeout:g} s ({exc or type(exc).__name__})"
    except ua.UaError as exc:
        return False, f"{c.endpoint_url} refused the session: {exc}"
    return True, f"connected to {c.endpoint_url}: {text}"


def _test_tcp(c: Connection, timeout: float) -> tuple[bool, str]:
    # A protocol without a test of its own (MQTT): the broker's port accepts a TCP connection.
    try:
        with socket.create_connection((c.host, c.port), timeout=timeout):
            pass
    except OSError as exc:
        return False, f"cannot connect to {c.host}:{c.port} within {timeout:g} s ({exc})"
    return True, f"{c.host}:{c.port} accepts TCP connections (the {c.get_protocol_display()} login is not tested)"


def connection_address_map(connection: Connection) -> tuple[list[str], list[list]]:
    """(header, rows) of every binding of `connection`, sorted; Modbus rows say overlaps and free gaps."""
    if connection.protocol == Protocol.OPCUA:
        header = ["node_id", "browse_path", "tag", "machine", "tag_datatype", "variant", "sampling_interval_ms",
                  "deadband"]
        rows = [[n.node_id, n.browse_path, n.tag.name, n.tag.machine.machine_id, n.tag.datatype, n.variant,
                 n.sampling_interval, n.deadband]
                for n in NodeBinding.objects.filter(connection=connection).select_related("tag__machine")
                .order_by("node_id", "tag__name")]
        return header, rows
    if connection.protocol == Protocol.SPARKPLUG:
        header = ["edge_node", "device", "metric", "tag", "machine", "datatype"]
        rows = [[m.edge_node, m.device, m.metric, m.tag.name, m.tag.machine.machine_id, m.datatype]
                for m in MetricBinding.objects.filter(connection=connection).select_related("tag__machine")
                .order_by("edge_node", "device", "metric")]
        return header, rows
    header = ["table", "address", "end", "registers", "data_type", "tag", "machine", "tag_datatype",
              "scan_period_ms", "note"]
    rows = []
    last_table, last_end = None, -1
    for b in (TagBinding.objects.filter(connection=connection).select_related("tag__machine")
              .order_by("table", "address", "tag__name")):
        n = codec.register_count(b.data_type, b.string_length)
        end = b.address + n - 1
        if b.table != last_table:
            last_table, last_end = b.table, -1
        if b.address <= last_end:
            note = f"overlaps the addresses up to {last_end}"
        elif b.address > last_end + 1:
            note = f"free {last_end + 1}–{b.address - 1}" if b.address - 1 > last_end + 1 else f"free {last_end + 1}"
        else:
            note = ""
        rows.append([b.table, b.address, end, n, b.data_type, b.tag.name, b.tag.machine.machine_id, b.tag.datatype,
                     b.scan_period, note])
        last_end = max(last_end, end)
    return header, rows
