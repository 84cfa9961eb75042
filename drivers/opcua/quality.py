"""OPC UA status codes and timestamps → Kiln quality, sub-status and sample time.

A StatusCode's top two bits are its severity (Part 4, 7.34.1): 00 Good, 01 Uncertain, 10 and 11 Bad. The
sub-code (bits 16–27) is kept: those Kiln has a word for (tags.choices.SUBSTATUSES) map to it, every other
non-Good code travels as its OPC UA name (BadOutOfService, UncertainSubNormal...), so nothing the server said
is lost. Low bits (info type, limit, overflow) do not change the quality.

Time (epoch seconds): the source timestamp (when the device sampled) when present, else the server's; either is used
only when it is within KILN_OPCUA_CLOCK_SKEW seconds of this machine's clock. A server whose clock is off by minutes
would otherwise write history in the wrong place and make live values look stale or future; such samples are stamped
with Kiln's receive time instead and counted (`clock_skewed` in the connection's stats).
"""

from __future__ import annotations

from datetime import datetime

from tags.choices import Quality

__all__ = ["status_quality", "sample_time", "epoch_seconds"]

# OPC UA code (severity + sub-code, low 16 bits cleared) → Kiln sub-status.
_KILN_SUBSTATUS = {
    0x80050000: "comm_failure",  # BadCommunicationError
    0x800A0000: "comm_failure",  # BadTimeout
    0x800C0000: "comm_failure",  # BadShutdown
    0x800D0000: "comm_failure",  # BadServerNotConnected
    0x80310000: "comm_failure",  # BadNoCommunication
    0x808A0000: "comm_failure",  # BadNotConnected
    0x80AE0000: "comm_failure",  # BadConnectionClosed
    0x80320000: "initial",  # BadWaitingForInitialData
    0x40920000: "initial",  # UncertainInitialValue
    0x80340000: "config_error",  # BadNodeIdUnknown
    0x80330000: "config_error",  # BadNodeIdInvalid
    0x80350000: "config_error",  # BadAttributeIdInvalid
    0x80740000: "config_error",  # BadTypeMismatch
    0x80890000: "config_error",  # BadConfigurationError
    0x803A0000: "config_error",  # BadNotReadable
    0x808B0000: "sensor_failure",  # BadDeviceFailure
    0x808C0000: "sensor_failure",  # BadSensorFailure
    0x40930000: "sensor_failure",  # UncertainSensorNotAccurate
    0x803C0000: "out_of_range",  # BadOutOfRange
    0x40940000: "out_of_range",  # UncertainEngineeringUnitsExceeded
    0x40900000: "stale",  # UncertainLastUsableValue
    0x80900000: "stale",  # BadLastKnownValue
    0x00960000: "manual",  # GoodLocalOverride
}
_cache: dict[int, tuple[str, str | None]] = {0: (Quality.GOOD, None)}


def _code_name(code: int) -> str:
    try:
        from asyncua.ua.status_codes import code_to_name_doc
    except ImportError:  # pragma: no cover - asyncua is a pinned dependency
        return f"0x{code:08X}"
    name = code_to_name_doc.get(code, (None,))[0]
    return name or f"0x{code:08X}"


def status_quality(code: int) -> tuple[str, str | None]:
    """(Kiln quality, sub-status or None) for an OPC UA StatusCode value (a uint32)."""
    try:
        return _cache[code]
    except KeyError:
        pass
    severity = (code >> 30) & 3
    quality = Quality.GOOD if severity == 0 else Quality.UNCERTAIN if severity == 1 else Quality.BAD
    base = code & 0xFFFF0000
    if base == 0:
        sub = None
    else:
        sub = _KILN_SUBSTATUS.get(base) or _code_name(base)
    if len(_cache) < 4096:  # codes are few; a server inventing many must not grow this without bound
        _cache[code] = (quality, sub)
    return quality, sub


def epoch_seconds(ts: datetime | None) -> float | None:
    """An asyncua timestamp (naive UTC or aware) as epoch seconds; None, and OPC UA's MinDateTime (1601), → None."""
    if ts is None or ts.year < 1971:
        return None
    return (ts - _EPOCH).total_seconds() if ts.tzinfo is None else ts.timestamp()


def sample_time(source: float | None, server: float | None, now: float, skew: float) -> tuple[float, bool]:
    """(epoch seconds to stamp the sample with, whether the server's time was refused as skewed).

    `source` and `server` are epoch seconds or None (drivers.opcua.publish decodes them so; asyncua's datetimes
    go through `epoch_seconds`); a time before 1971 counts as absent.
    """
    for ts in (source, server):
        if ts is None or ts < _YEAR_1971:
            continue
        if abs(ts - now) <= skew:
            return ts, False
        return now, True
    return now, False


_EPOCH = datetime(1970, 1, 1)
_YEAR_1971 = 365 * 86400.0
