"""Encoding and decoding of PLC values: registers ↔ raw value ↔ engineering units.

Pure functions on plain data, no Django: the poller, the write router, the simulator and the benchmark all use
them. Word order says which 16-bit register holds the most significant part of a 32/64-bit value; byte order
says how the two bytes sit within one register (Modbus itself is big endian: "AB"). The four combinations are
the usual ABCD (big/big), CDAB (word little), BADC (byte little) and DCBA (both little).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

__all__ = ["register_count", "Scaling", "Codec", "CodecError", "float32_shortest"]

_F32 = struct.Struct("<f")


def float32_shortest(value: float) -> float:
    """The float32 `value` as the shortest decimal that round-trips through float32 (1485.199951171875 → 1485.2).

    A 32-bit register holds about 7 significant digits; the float64 digits beyond them are noise, so values
    from float32 registers are reported once, here, at float32 precision. Every 6-digit decimal round-trips,
    and 9 digits always do; the first precision that packs back to the same bits is the shortest.
    """
    if not math.isfinite(value):
        return value
    bits = _F32.pack(value)
    for digits in (6, 7, 8):
        short = float(f"{value:.{digits}g}")
        if _F32.pack(short) == bits:
            return short
    return float(f"{value:.9g}")

_STRUCT = {
    "int16": ("h", 1), "uint16": ("H", 1), "int32": ("i", 2), "uint32": ("I", 2),
    "float32": ("f", 2), "float64": ("d", 4),
}
_INT_RANGE = {"int16": (-32768, 32767), "uint16": (0, 65535), "int32": (-(2**31), 2**31 - 1),
              "uint32": (0, 2**32 - 1)}


class CodecError(ValueError):
    """A value cannot be encoded for the PLC (out of range, not representable); the message says why."""


def register_count(data_type: str, string_length: int | None = None) -> int:
    """Registers (or bits, for bool in a bit table) one value occupies."""
    if data_type == "bool":
        return 1
    if data_type == "string":
        return int(string_length or 0)
    return _STRUCT[data_type][1]


@dataclass(slots=True, frozen=True)
class Scaling:
    """Linear raw ↔ engineering-unit scaling through two points (raw_low → eu_low, raw_high → eu_high)."""

    raw_low: float
    raw_high: float
    eu_low: float
    eu_high: float

    def to_eu(self, raw: float) -> float:
        return self.eu_low + (raw - self.raw_low) * (self.eu_high - self.eu_low) / (self.raw_high - self.raw_low)

    def to_raw(self, eu: float) -> float:
        return self.raw_low + (eu - self.eu_low) * (self.raw_high - self.raw_low) / (self.eu_high - self.eu_low)


class Codec:
    """How one binding's value is laid out in registers. Built once per plan; decode() runs every cycle.

    `integer_eu` rounds scaled values for INT tags, so an INT tag fed through scaling still holds an integer.
    """

    __slots__ = ("data_type", "count", "word_little", "byte_little", "scaling", "integer_eu", "_struct",
                 "_fast", "is_plain_word")

    def __init__(self, data_type: str, *, string_length: int | None = None, word_order: str = "big",
                 byte_order: str = "big", scaling: Scaling | None = None, integer_eu: bool = False):
        self.data_type = data_type
        self.count = register_count(data_type, string_length)
        self.word_little = word_order == "little"
        self.byte_little = byte_order == "little"
        self.scaling = scaling
        self.integer_eu = integer_eu
        fmt = _STRUCT.get(data_type)
        self._struct = struct.Struct(">" + fmt[0]) if fmt else None
        # The common case (standard Modbus big/big, or a single register) needs no reordering at all.
        self._fast = self._struct is not None and (self.count == 1 or not self.word_little) and not self.byte_little
        # The value is the register (or bit) itself: the poller skips the decoder call altogether.
        self.is_plain_word = scaling is None and (data_type == "uint16" and not self.byte_little)

    # --- registers → value ---------------------------------------------------------------------------------
    def _ordered_bytes(self, regs) -> bytes:
        words = list(regs)
        if self.word_little:
            words.reverse()
        order = "little" if self.byte_little else "big"
        return b"".join(int(w).to_bytes(2, order) for w in words)

    def decode_raw(self, regs):
        """The raw value from this binding's registers (a list of ints 0–65535, or [bool] for a bit)."""
        if self.data_type == "bool":
            return bool(regs[0])
        if self.data_type == "string":
            data = b"".join(int(w).to_bytes(2, "little" if self.byte_little else "big") for w in regs)
            # PLC strings are NUL- or space-padded bytes; latin-1 never fails, so a garbled byte shows as itself.
            return data.split(b"\x00", 1)[0].decode("latin-1").rstrip(" ")
        if self._fast:
            if self.data_type == "uint16":  # the most common tag of all: no packing needed
                return int(regs[0])
            if self.data_type == "int16":
                r = int(regs[0])
                return r - 0x10000 if r & 0x8000 else r
            return self._struct.unpack(struct.pack(f">{self.count}H", *regs))[0]
        return self._struct.unpack(self._ordered_bytes(regs))[0]

    def decode(self, regs):
        """The value in engineering units (scaled, rounded for INT tags). NaN/inf pass through as float.

        float32 values come out at float32 precision (float32_shortest), scaled or not: the register never held
        more digits than that.
        """
        raw = self.decode_raw(regs)
        if self.scaling is not None:
            raw = self.scaling.to_eu(raw)
        if self.data_type == "float32" and not self.integer_eu:
            return float32_shortest(raw)
        if self.integer_eu and isinstance(raw, float) and math.isfinite(raw):
            return round(raw)
        return raw

    # --- value → registers ---------------------------------------------------------------------------------
    def encode(self, value) -> list:
        """Registers (or [bool]) for an engineering-unit value; raises CodecError when the PLC cannot hold it."""
        if self.data_type == "bool":
            if not isinstance(value, (bool, int)) or isinstance(value, int) and value not in (0, 1):
                raise CodecError(f"{value!r} is not a bool")
            return [bool(value)]
        if self.data_type == "string":
            try:
                data = str(value).encode("latin-1")
            except UnicodeEncodeError:
                raise CodecError("The PLC string holds latin-1 characters only")
            if len(data) > 2 * self.count:
                raise CodecError(f"'{value}' is longer than {2 * self.count} characters ({self.count} registers)")
            data = data.ljust(2 * self.count, b"\x00")
            order = "little" if self.byte_little else "big"
            return [int.from_bytes(data[i:i + 2], order) for i in range(0, len(data), 2)]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CodecError(f"{value!r} is not a number")
        raw = self.scaling.to_raw(value) if self.scaling is not None else value
        if self.data_type in _INT_RANGE:
            if isinstance(raw, float):
                if not math.isfinite(raw):
                    raise CodecError(f"{value!r} is not a finite number")
                raw = round(raw)
            low, high = _INT_RANGE[self.data_type]
            if not low <= raw <= high:
                raise CodecError(f"{value!r} is {raw} raw, outside the {self.data_type} range {low}…{high}")
        try:
            # float32: anything that rounds to a finite float32 (3.4028235e38, as decode reports the largest)
            packed = self._struct.pack(raw)
        except OverflowError:
            raise CodecError(f"{value!r} is outside the {self.data_type} range")
        order = "little" if self.byte_little else "big"
        words = [int.from_bytes(packed[i:i + 2], order) for i in range(0, len(packed), 2)]
        if self.word_little:
            words.reverse()
        return words
