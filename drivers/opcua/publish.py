"""PublishResponses of plain data changes decoded straight into Kiln's notification tuples.

Why: at 10,000 monitored items a second, asyncua's generic decoder (a dataclass per DataValue, Variant,
StatusCode and datetime), its per-notification event objects and a queue between them cost ~15 µs a value, most
of the client's CPU. A publish response that carries only DataChangeNotifications of scalar values (what a plant
sends) is decoded here with `struct` in one pass (OPC UA Part 6, 5.2: little-endian, DataValue and Variant as
below) into (client handle, value, status code, variant type id, source time, server time) tuples, times as
epoch seconds or None. Anything else (a ServiceFault, a StatusChangeNotification, events, arrays, other
variant types, picoseconds, diagnostics) returns None and the caller lets asyncua decode the whole message
as before, so nothing unusual is lost or misread on the fast path.

The PublishResponse returned in place of asyncua's keeps the header, the sequence numbers and the results, with
one empty DataChangeNotification standing for the data, so asyncua's publish loop acknowledges the message and
its subscription notes the publish as usual.
"""

from __future__ import annotations

import struct

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import nodeid_from_binary, struct_from_binary

__all__ = ["decode_publish"]

_PUBLISH_RESPONSE = ua.ObjectIds.PublishResponse_Encoding_DefaultBinary
_DATA_CHANGE = ua.ObjectIds.DataChangeNotification_Encoding_DefaultBinary
_TICKS_AT_EPOCH = 116444736000000000  # 100 ns ticks from 1601-01-01 to 1970-01-01
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_HEAD = struct.Struct("<IB")  # ClientHandle, DataValue encoding mask
_PARAMS = struct.Struct("<Ii")  # SubscriptionId, AvailableSequenceNumbers length
_MESSAGE = struct.Struct("<?Iqi")  # MoreNotifications, SequenceNumber, PublishTime, NotificationData length
# Scalar variant type id → its struct (Boolean 1 … Double 11); String (12) is read by hand.
_SCALAR = {1: struct.Struct("<?"), 2: struct.Struct("<b"), 3: struct.Struct("<B"), 4: struct.Struct("<h"),
           5: struct.Struct("<H"), 6: struct.Struct("<i"), 7: struct.Struct("<I"), 8: struct.Struct("<q"),
           9: struct.Struct("<Q"), 10: struct.Struct("<f"), 11: struct.Struct("<d")}
_SCALAR_READ = {k: (s.unpack_from, s.size) for k, s in _SCALAR.items()}


class _Unsupported(Exception):
    """Something the fast path does not decode: asyncua decodes the whole message instead."""


def _epoch(ticks: int) -> float | None:
    return (ticks - _TICKS_AT_EPOCH) / 1e7 if ticks > 0 else None  # 0 is OPC UA's "no time"


def _data_changes(raw: bytes, pos: int, end: int, out: list) -> None:
    """Decode one DataChangeNotification body raw[pos:end] into `out`."""
    (count,) = _I32.unpack_from(raw, pos)
    pos += 4
    head, u32, i64, scalar = _HEAD.unpack_from, _U32.unpack_from, _I64.unpack_from, _SCALAR_READ
    append = out.append
    for _ in range(max(count, 0)):
        handle, mask = head(raw, pos)
        pos += 5
        if mask & 0xF0:  # picoseconds, or bits this decoder does not know
            raise _Unsupported
        value, vtype, status, source, server = None, 0, 0, None, None
        if mask & 1:
            vtype = raw[pos]
            pos += 1
            if vtype in scalar:
                unpack, size = scalar[vtype]
                (value,) = unpack(raw, pos)
                pos += size
            elif vtype == 12:
                (length,) = _I32.unpack_from(raw, pos)
                pos += 4
                if length >= 0:
                    value = raw[pos:pos + length].decode("utf-8")
                    pos += length
            elif vtype != 0:  # arrays (bits 6-7), DateTime, ByteString, structures...
                raise _Unsupported
        if mask & 2:
            (status,) = u32(raw, pos)
            pos += 4
        if mask & 4:
            source = _epoch(i64(raw, pos)[0])
            pos += 8
        if mask & 8:
            server = _epoch(i64(raw, pos)[0])
            pos += 8
        append((handle, value, status, vtype, source, server))
    (diagnostics,) = _I32.unpack_from(raw, pos)
    if diagnostics > 0 or pos + 4 != end:
        raise _Unsupported


def decode_publish(data: Buffer) -> tuple[ua.PublishResponse, list[tuple]] | None:
    """(response, notification tuples) for a PublishResponse of plain data changes, else None (see above).

    `data` is not consumed: on None, decode it with asyncua.
    """
    raw = bytes(data)
    try:
        buf = Buffer(raw)
        type_id = nodeid_from_binary(buf)
        if type_id.NamespaceIndex != 0 or type_id.Identifier != _PUBLISH_RESPONSE:
            return None  # a ServiceFault: asyncua raises the right error
        header = struct_from_binary(ua.ResponseHeader, buf)
        pos = buf.cur_pos
        subscription_id, n_available = _PARAMS.unpack_from(raw, pos)
        pos += 8
        available = list(struct.unpack_from(f"<{max(n_available, 0)}I", raw, pos))
        pos += 4 * len(available)
        more, sequence, publish_ticks, n_data = _MESSAGE.unpack_from(raw, pos)
        pos += 17
        rows: list[tuple] = []
        for _ in range(max(n_data, 0)):
            buf = Buffer(raw, pos)
            data_type = nodeid_from_binary(buf)
            pos = buf.cur_pos
            encoding, length = raw[pos], _I32.unpack_from(raw, pos + 1)[0]
            pos += 5
            if data_type.NamespaceIndex != 0 or data_type.Identifier != _DATA_CHANGE or encoding != 1:
                return None
            _data_changes(raw, pos, pos + length, rows)
            pos += length
        (n_results,) = _I32.unpack_from(raw, pos)
        pos += 4
        results = [ua.StatusCode(c) for c in struct.unpack_from(f"<{max(n_results, 0)}I", raw, pos)]
        pos += 4 * len(results)
        (n_diagnostics,) = _I32.unpack_from(raw, pos)
        if n_diagnostics > 0 or pos + 4 != len(raw):
            return None
    except (_Unsupported, struct.error, IndexError, ValueError, ua.UaError):
        return None
    message = ua.NotificationMessage(SequenceNumber=sequence, PublishTime=ua.win_epoch_to_datetime(publish_ticks),
                                     NotificationData=[ua.DataChangeNotification()] if n_data > 0 else [])
    response = ua.PublishResponse(ResponseHeader=header, Parameters=ua.PublishResult(
        SubscriptionId=subscription_id, AvailableSequenceNumbers=available, MoreNotifications=more,
        NotificationMessage=message, Results=results))
    return response, rows
