"""The Sparkplug B payload (spBv1.0): decode and encode the protobuf `Payload` message, scalar metrics.

First piece of issue 17's MQTT part; no MQTT connection uses it yet. Why a small hand-written codec and not
protobuf + the Eclipse Tahu `.proto`: Kiln reads one message type, and needs it to be strict and safe on
hostile bytes (a broker is a shared bus: a malformed payload must mark the node's tags BAD, never crash the
host application or allocate without bound). The wire format is protobuf's (varint, 64-bit, length-delimited,
32-bit); the field numbers are those of the specification's schema (Sparkplug 3.0, chapter 6 "Payloads"):

    Payload: timestamp=1 (uint64), metrics=2 (Metric, repeated), seq=3 (uint64), uuid=4 (string), body=5 (bytes)
    Metric:  name=1, alias=2 (uint64), timestamp=3 (uint64), datatype=4 (uint32), is_historical=5,
             is_transient=6, is_null=7 (bool), metadata=8, properties=9, int_value=10 (uint32),
             long_value=11 (uint64), float_value=12 (float), double_value=13 (double), boolean_value=14,
             string_value=15, bytes_value=16, dataset_value=17, template_value=18, extension_value=19

Int8/Int16/Int32 travel in the uint32 int_value; negative values are sign-extended to 32 bits by Eclipse Tahu,
while the specification leaves the width-sized form open, so both are accepted. Arrays, DataSets, Templates and
Files decode as `unsupported=True` (their tags go BAD config_error rather than showing a wrong value).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from drivers.codec import float32_shortest

__all__ = ["Metric", "Payload", "PayloadError", "decode_payload", "encode_payload", "DataType", "MAX_METRICS"]

MAX_METRICS = 100_000  # one payload; a birth of a large edge node has thousands, never this many


class DataType:
    INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 = 1, 2, 3, 4, 5, 6, 7, 8
    FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME, TEXT, UUID = 9, 10, 11, 12, 13, 14, 15
    DATASET, BYTES, FILE, TEMPLATE = 16, 17, 18, 19


_SIGNED_WIDTH = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32}
_UNSIGNED_WIDTH = {DataType.UINT8: 8, DataType.UINT16: 16, DataType.UINT32: 32}
_TEXT_TYPES = {DataType.STRING, DataType.TEXT, DataType.UUID}
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


class PayloadError(ValueError):
    """The bytes are not a Sparkplug B payload Kiln can read (the message says where)."""


@dataclass(slots=True)
class Metric:
    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None  # ms since the epoch
    datatype: int | None = None
    value: object = None
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False
    unsupported: bool = False


@dataclass(slots=True)
class Payload:
    timestamp: int | None = None
    seq: int | None = None
    uuid: str | None = None
    metrics: list[Metric] = field(default_factory=list)


# --- wire format --------------------------------------------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    try:
        while True:
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result, pos
            shift += 7
            if shift >= 64:
                raise PayloadError("varint longer than 64 bits")
    except IndexError:
        raise PayloadError("truncated varint") from None


def _fields(data: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) for each field; value is an int or a bytes slice.

    A list, not a generator, and one-byte keys and varints (almost all of them: field numbers < 16, aliases and
    datatypes < 128) read inline: this runs for every metric of every message, so it is the host's hot loop.
    """
    out = []
    append = out.append
    pos, end = 0, len(data)
    while pos < end:
        key = data[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise PayloadError("field number 0")
        if wire == 0:
            if pos < end and data[pos] < 0x80:
                value = data[pos]
                pos += 1
            else:
                value, pos = _varint(data, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise PayloadError("truncated 64-bit field")
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            if pos < end and data[pos] < 0x80:
                length = data[pos]
                pos += 1
            else:
                length, pos = _varint(data, pos)
            if pos + length > end:
                raise PayloadError("length-delimited field runs past the end")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            if pos + 4 > end:
                raise PayloadError("truncated 32-bit field")
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise PayloadError(f"unsupported wire type {wire}")
        append((number, wire, value))
    return out


def _text(raw, what: str) -> str:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise PayloadError(f"{what}: not a string")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{what}: not UTF-8") from exc
    if "\x00" in text:
        raise PayloadError(f"{what}: contains NUL")
    return text


def _signed(raw: int, width: int) -> int:
    raw &= 0xFFFFFFFF
    if raw >= 1 << 31:  # sign-extended to 32 bits (Tahu's form)
        raw -= 1 << 32
        if raw < -(1 << (width - 1)):
            raise PayloadError(f"Int{width} value out of range")
        return raw
    if raw >= 1 << width:
        raise PayloadError(f"Int{width} value out of range")
    return raw - (1 << width) if raw >= 1 << (width - 1) else raw  # the width-sized form


def _metric(data: bytes) -> Metric:
    m = Metric()
    raw: dict[int, object] = {}
    for number, wire, value in _fields(data):
        if number == 1:
            m.name = _text(value, "metric name")
        elif number == 2 and wire == 0:
            m.alias = value
        elif number == 3 and wire == 0:
            m.timestamp = value
        elif number == 4 and wire == 0:
            m.datatype = value
        elif number == 5 and wire == 0:
            m.is_historical = bool(value)
        elif number == 6 and wire == 0:
            m.is_transient = bool(value)
        elif number == 7 and wire == 0:
            m.is_null = bool(value)
        elif 10 <= number <= 19:
            raw[number] = (wire, value)
    m.value = None if m.is_null else _value(m, raw)
    return m


def _take(m: Metric, raw: dict, number: int, wire: int):
    got = raw.get(number)
    if got is None:
        return None
    if got[0] != wire:
        raise PayloadError(f"metric {m.name or m.alias}: value field {number} has the wrong wire type")
    return got[1]


def _value(m: Metric, raw: dict):  # noqa: C901 - one branch per Sparkplug datatype, read best in one place
    t = m.datatype
    if t == DataType.DOUBLE:  # the common case first
        v = _take(m, raw, 13, 1)
        return None if v is None else _F64.unpack(v)[0]

    def take(number: int, wire: int):
        return _take(m, raw, number, wire)

    if t in _SIGNED_WIDTH:
        v = take(10, 0)
        return None if v is None else _signed(v, _SIGNED_WIDTH[t])
    if t in _UNSIGNED_WIDTH:
        v = take(10, 0)
        if v is not None and v >= 1 << _UNSIGNED_WIDTH[t]:
            raise PayloadError(f"metric {m.name or m.alias}: UInt{_UNSIGNED_WIDTH[t]} value out of range")
        return v
    if t == DataType.INT64:
        v = take(11, 0)
        return None if v is None else (v - (1 << 64) if v >= 1 << 63 else v)
    if t in (DataType.UINT64, DataType.DATETIME):
        return take(11, 0)
    if t == DataType.FLOAT:
        v = take(12, 5)
        # At float32 precision, as Modbus float32 registers are reported (1485.199951171875 → 1485.2).
        return None if v is None else float32_shortest(_F32.unpack(v)[0])
    if t == DataType.DOUBLE:
        v = take(13, 1)
        return None if v is None else _F64.unpack(v)[0]
    if t == DataType.BOOLEAN:
        v = take(14, 0)
        return None if v is None else bool(v)
    if t in _TEXT_TYPES:
        v = take(15, 2)
        return None if v is None else _text(v, f"metric {m.name or m.alias}")
    if t == DataType.BYTES:
        v = take(16, 2)
        return None if v is None else bytes(v)
    if t is None and not raw:
        return None  # a metric without datatype or value (allowed in DATA by alias, when null)
    m.unsupported = True
    return None


def decode_payload(data: bytes) -> Payload:
    """Payload from bytes; raises PayloadError on anything malformed (nothing else)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PayloadError("not bytes")
    data = bytes(data)
    p = Payload()
    for number, wire, value in _fields(data):
        if number == 1 and wire == 0:
            p.timestamp = value
        elif number == 2 and wire == 2:
            if len(p.metrics) >= MAX_METRICS:
                raise PayloadError(f"more than {MAX_METRICS} metrics")
            p.metrics.append(_metric(value))
        elif number == 3 and wire == 0:
            if value > 255:
                raise PayloadError("seq beyond 255")
            p.seq = value
        elif number == 4 and wire == 2:
            p.uuid = _text(value, "uuid")
    return p


# --- encoding (the edge node simulator, NCMD/DCMD) ------------------------------------------------------------------

def _put_varint(out: bytearray, value: int) -> None:
    value &= (1 << 64) - 1
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _put_key(out: bytearray, number: int, wire: int) -> None:
    _put_varint(out, number << 3 | wire)


def _put_bytes(out: bytearray, number: int, data: bytes) -> None:
    _put_key(out, number, 2)
    _put_varint(out, len(data))
    out += data


def _encode_metric(m: Metric) -> bytes:
    out = bytearray()
    if m.name is not None:
        _put_bytes(out, 1, m.name.encode())
    for number, v in ((2, m.alias), (3, m.timestamp), (4, m.datatype)):
        if v is not None:
            _put_key(out, number, 0)
            _put_varint(out, v)
    for number, flag in ((5, m.is_historical), (6, m.is_transient)):
        if flag:
            _put_key(out, number, 0)
            _put_varint(out, 1)
    if m.is_null or m.value is None:
        _put_key(out, 7, 0)
        _put_varint(out, 1)
        return bytes(out)
    t, v = m.datatype, m.value
    if t in _SIGNED_WIDTH or t in _UNSIGNED_WIDTH:
        _put_key(out, 10, 0)
        _put_varint(out, int(v) & 0xFFFFFFFF)  # negative: sign-extended to 32 bits, as Tahu does
    elif t in (DataType.INT64, DataType.UINT64, DataType.DATETIME):
        _put_key(out, 11, 0)
        _put_varint(out, int(v))
    elif t == DataType.FLOAT:
        _put_key(out, 12, 5)
        out += _F32.pack(float(v))
    elif t == DataType.DOUBLE:
        _put_key(out, 13, 1)
        out += _F64.pack(float(v))
    elif t == DataType.BOOLEAN:
        _put_key(out, 14, 0)
        _put_varint(out, 1 if v else 0)
    elif t in _TEXT_TYPES:
        _put_bytes(out, 15, str(v).encode())
    elif t == DataType.BYTES:
        _put_bytes(out, 16, bytes(v))
    else:
        raise ValueError(f"Kiln does not encode Sparkplug datatype {t}")
    return bytes(out)


def encode_payload(payload: Payload) -> bytes:
    out = bytearray()
    if payload.timestamp is not None:
        _put_key(out, 1, 0)
        _put_varint(out, payload.timestamp)
    for m in payload.metrics:
        _put_bytes(out, 2, _encode_metric(m))
    if payload.seq is not None:
        _put_key(out, 3, 0)
        _put_varint(out, payload.seq)
    if payload.uuid is not None:
        _put_bytes(out, 4, payload.uuid.encode())
    return bytes(out)
