"""Cheap value changes for the OPC UA simulator's asyncua server (server side only; never used by Kiln's client).

asyncua's server spends ~100 µs on each change of a monitored value when its generic code runs: a deep copy of
the DataValue per monitored item, then the generic encoder for each notification of the PublishResponse. That
capped the simulator near 5,000 changes/s, short of what the OPC UA benchmark must offer Kiln's client (10,000
items changing every second). `install()` (called when a simulator starts) replaces three things, in the process
that runs the server:

- MonitoredItemValues.set_current_datavalue keeps a reference to a DataValue of a scalar instead of a deep copy.
  The simulator writes a fresh DataValue per change and never mutates it afterwards; arrays are still copied.
- MonitoredItemService.datachange_callback builds each MonitoredItemNotification with its value (asyncua's
  builds a blank one first, whose default DataValue and Variant cost more than the rest of the callback);
  otherwise the same steps (disabled items, trigger, deadband, queue).
- the PublishResponse encoder of asyncua's server (its uaprocessor module's struct_to_binary) writes
  DataChangeNotifications of scalar values with `struct` (the same bytes as asyncua's encoder, tested); anything
  else (events, status changes, arrays, other types, picoseconds, diagnostics) is encoded by asyncua as before.
"""

from __future__ import annotations

import struct

from asyncua import ua
from asyncua.server import monitored_item_service, uaprocessor
from asyncua.ua.ua_binary import extensionobject_to_binary, nodeid_to_binary

__all__ = ["install", "encode_response"]

_SCALARS = (bool, int, float, str, bytes, type(None))
_asyncua_set_current = monitored_item_service.MonitoredItemValues.set_current_datavalue
_asyncua_encode = uaprocessor.struct_to_binary
_asyncua_datachange = monitored_item_service.MonitoredItemService.datachange_callback
_DISABLED = ua.MonitoringMode.Disabled
_STATUS_VALUE = ua.DataChangeTrigger.StatusValue
_DATA_CHANGE_HEAD = nodeid_to_binary(ua.FourByteNodeId(ua.ObjectIds.DataChangeNotification_Encoding_DefaultBinary)) \
    + b"\x01"
_I32 = struct.Struct("<i")
_ITEM = struct.Struct("<IB")  # ClientHandle, DataValue encoding mask
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_PACK = {1: struct.Struct("<?").pack, 2: struct.Struct("<b").pack, 3: struct.Struct("<B").pack,
         4: struct.Struct("<h").pack, 5: struct.Struct("<H").pack, 6: struct.Struct("<i").pack,
         7: struct.Struct("<I").pack, 8: struct.Struct("<q").pack, 9: struct.Struct("<Q").pack,
         10: struct.Struct("<f").pack, 11: struct.Struct("<d").pack}


class _Unsupported(Exception):
    pass


def _set_current_datavalue(self, cur_val: ua.DataValue) -> None:
    # A DataValue of a scalar written by the simulator is never mutated after the write: share it.
    if cur_val is not None and (cur_val.Value is None or isinstance(cur_val.Value.Value, _SCALARS)):
        self.old_dvalue = self.current_dvalue
        self.current_dvalue = cur_val
    else:
        _asyncua_set_current(self, cur_val)


async def _datachange_callback(self, handle: int, value: ua.DataValue, error: ua.StatusCode | None = None) -> None:
    if error:
        await _asyncua_datachange(self, handle, value, error)
        return
    mid = self._monitored_datachange[handle]
    mdata = self._monitored_items[mid]
    if mdata.mode == _DISABLED:
        return
    mdata.mvalue.set_current_datavalue(value)
    if mdata.filter:
        passed = self._is_data_changed(mdata.mvalue, mdata.filter.Trigger) and \
            self._is_deadband_exceeded(mdata.mvalue, mdata.filter)
    else:
        passed = self._is_data_changed(mdata.mvalue, _STATUS_VALUE)
    if passed:
        event = ua.MonitoredItemNotification(ClientHandle=mdata.client_handle, Value=value)
        await self.isub.enqueue_datachange_event(mid, event, mdata.queue_size)


def _variant(var: ua.Variant) -> bytes:
    if var.is_array or var.Dimensions is not None:
        raise _Unsupported
    vtype = var.VariantType.value
    value = var.Value
    pack = _PACK.get(vtype)
    if pack is not None and isinstance(value, int | float):
        return bytes((vtype,)) + pack(value)
    if vtype == 12 and isinstance(value, str | type(None)):
        if value is None:
            return b"\x0c\xff\xff\xff\xff"
        raw = value.encode("utf-8")
        return b"\x0c" + _I32.pack(len(raw)) + raw
    if vtype == 0:
        return b"\x00"
    raise _Unsupported


def _data_changes(notif: ua.DataChangeNotification) -> bytes:
    if notif.DiagnosticInfos:
        raise _Unsupported
    parts = [_I32.pack(len(notif.MonitoredItems))]
    append = parts.append
    ticks = ua.datetime_to_win_epoch
    for item in notif.MonitoredItems:
        dv = item.Value
        if dv.SourcePicoseconds is not None or dv.ServerPicoseconds is not None:
            raise _Unsupported
        mask = (dv.Value is not None) | (dv.StatusCode is not None) << 1 | (dv.SourceTimestamp is not None) << 2 \
            | (dv.ServerTimestamp is not None) << 3
        append(_ITEM.pack(item.ClientHandle, mask))
        if dv.Value is not None:
            append(_variant(dv.Value))
        if dv.StatusCode is not None:
            append(_U32.pack(dv.StatusCode.value))
        if dv.SourceTimestamp is not None:
            append(_I64.pack(ticks(dv.SourceTimestamp)))
        if dv.ServerTimestamp is not None:
            append(_I64.pack(ticks(dv.ServerTimestamp)))
    append(b"\x00\x00\x00\x00")  # no DiagnosticInfos
    body = b"".join(parts)
    return _DATA_CHANGE_HEAD + _I32.pack(len(body)) + body


def encode_response(obj) -> bytes:
    """asyncua's struct_to_binary, with PublishResponses of data changes written fast (module docstring)."""
    if type(obj) is not ua.PublishResponse:
        return _asyncua_encode(obj)
    message = obj.Parameters.NotificationMessage
    data = message.NotificationData
    if not any(type(n) is ua.DataChangeNotification for n in data):
        return _asyncua_encode(obj)
    encoded = []
    for notif in data:
        try:
            encoded.append(_data_changes(notif) if type(notif) is ua.DataChangeNotification else
                           extensionobject_to_binary(notif))
        except (_Unsupported, struct.error, TypeError, OverflowError, AttributeError):
            encoded.append(extensionobject_to_binary(notif))
    # Everything around the notifications is encoded by asyncua: the response without them, split where their
    # count is. What follows the count (Results, DiagnosticInfos) is a blank PublishResult's bytes less its
    # fixed 25 (SubscriptionId 4, no sequence numbers 4, MoreNotifications 1, SequenceNumber 4, PublishTime 8,
    # no notifications 4).
    message.NotificationData = []
    try:
        shell = _asyncua_encode(obj)
    finally:
        message.NotificationData = data
    params = obj.Parameters
    tail = len(_asyncua_encode(ua.PublishResult(Results=params.Results, DiagnosticInfos=params.DiagnosticInfos))) - 25
    cut = len(shell) - tail
    return shell[:cut - 4] + _I32.pack(len(encoded)) + b"".join(encoded) + shell[cut:]


def install() -> None:
    """Put the replacements in place (idempotent)."""
    monitored_item_service.MonitoredItemValues.set_current_datavalue = _set_current_datavalue
    monitored_item_service.MonitoredItemService.datachange_callback = _datachange_callback
    uaprocessor.struct_to_binary = encode_response
