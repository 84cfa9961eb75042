"""The Modbus TCP transport: one socket to one PLC, reads and writes, errors sorted into two kinds.

- CommError: no usable answer (refused, reset, timeout, garbled). The socket is closed at once, so a late
  reply can never be taken for the answer to the next request.
- PlcException: the PLC answered with a Modbus exception (illegal address, illegal value...). The socket stays.

This is the whole contract the poller needs from a protocol (connect, close, connected, read, write); an OPC UA
or MQTT driver would provide the same five and reuse the poller, plan and codec.
"""

from __future__ import annotations

import logging

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.choices import Table

__all__ = ["CommError", "PlcException", "ModbusTransport", "EXCEPTION_TEXT"]

# pymodbus logs every refused connect and timeout at ERROR; the poller reports those itself, once per change
# of state, instead of once per attempt.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

EXCEPTION_TEXT = {
    1: "illegal function", 2: "illegal data address", 3: "illegal data value", 4: "device failure",
    5: "acknowledge", 6: "device busy", 8: "memory parity error", 10: "gateway path unavailable",
    11: "gateway target failed to respond",
}
GATEWAY_CODES = {10, 11}  # the PLC behind a gateway did not answer: a communication failure, not a config error


class CommError(Exception):
    """The PLC could not be reached or did not answer in time."""


class PlcException(Exception):
    """The PLC answered a request with a Modbus exception code."""

    def __init__(self, code: int, what: str):
        self.code = code
        super().__init__(f"{what}: Modbus exception {code} ({EXCEPTION_TEXT.get(code, 'unknown')})")


class ModbusTransport:
    """A synchronous pymodbus client with the connection's timeout and retries (pymodbus 3.16 API)."""

    def __init__(self, host: str, port: int, *, unit_id: int = 1, timeout: float = 1.0, retries: int = 0):
        self.unit_id = unit_id
        self.retries = retries
        self.client = ModbusTcpClient(host, port=port, timeout=timeout, retries=retries)

    @property
    def connected(self) -> bool:
        return self.client.connected

    def connect(self) -> None:
        if not self.client.connect():
            raise CommError(f"cannot connect to {self.client.comm_params.host}:{self.client.comm_params.port}")

    def close(self) -> None:
        self.client.close()

    def _execute(self, what: str, call, *args, **kwargs):
        if not self.client.connected:
            raise CommError("not connected")
        try:
            response = call(*args, device_id=self.unit_id, **kwargs)
        except (ModbusException, OSError, ValueError) as exc:
            # Timeouts surface as ModbusIOException, resets as ConnectionException; both leave the stream in an
            # unknown state, so the socket goes and the next attempt starts clean.
            self.client.close()
            raise CommError(f"{what}: {exc}") from exc
        if response.isError():
            code = getattr(response, "exception_code", None)
            if code is None:
                self.client.close()
                raise CommError(f"{what}: invalid response {response!r}")
            raise PlcException(code, what)
        return response

    def read(self, table: str, start: int, count: int) -> list:
        """`count` registers (ints) or bits (bools) from `start`."""
        what = f"read {table} {start}+{count}"
        if table == Table.HOLDING_REGISTER:
            return self._execute(what, self.client.read_holding_registers, start, count=count).registers
        if table == Table.INPUT_REGISTER:
            return self._execute(what, self.client.read_input_registers, start, count=count).registers
        if table == Table.COIL:
            return self._execute(what, self.client.read_coils, start, count=count).bits[:count]
        if table == Table.DISCRETE_INPUT:
            return self._execute(what, self.client.read_discrete_inputs, start, count=count).bits[:count]
        raise ValueError(f"unknown table {table!r}")

    def write(self, table: str, address: int, values: list) -> None:
        """Write one coil, one register (FC6) or several registers (FC16). Never retried: see module doc."""
        what = f"write {table} {address}"
        tm = self.client.transaction
        saved, tm.retries = tm.retries, 0  # a resent write could apply twice; its reply lost means unknown
        try:
            if table == Table.COIL:
                self._execute(what, self.client.write_coil, address, bool(values[0]))
            elif table == Table.HOLDING_REGISTER:
                if len(values) == 1:
                    self._execute(what, self.client.write_register, address, int(values[0]))
                else:
                    self._execute(what, self.client.write_registers, address, [int(v) for v in values])
            else:
                raise PlcException(1, f"{what} (table is read-only)")
        finally:
            tm.retries = saved
