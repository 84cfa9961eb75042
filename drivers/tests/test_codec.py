"""Codec: register layouts of every data type in all four word/byte orders, scaling, and refused values."""

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.codec import Codec, CodecError, Scaling, register_count

ORDERS = [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")]


@pytest.mark.parametrize(("word", "byte", "regs"), [
    ("big", "big", [0x3F80, 0x0000]),        # ABCD
    ("little", "big", [0x0000, 0x3F80]),     # CDAB
    ("big", "little", [0x803F, 0x0000]),     # BADC
    ("little", "little", [0x0000, 0x803F]),  # DCBA
])
def test_it_lays_out_float32_one_in_each_order(word, byte, regs):
    codec = Codec("float32", word_order=word, byte_order=byte)
    assert codec.encode(1.0) == regs
    assert codec.decode(regs) == 1.0


def test_it_lays_out_int32_and_uint16_like_a_plc():
    assert Codec("int32").encode(-2) == [0xFFFF, 0xFFFE]
    assert Codec("int32", word_order="little").decode([0xFFFE, 0xFFFF]) == -2
    assert Codec("uint16").decode([0xFFFF]) == 65535
    assert Codec("int16").decode([0xFFFF]) == -1
    assert Codec("uint32").decode([0x0001, 0x0000]) == 65536
    assert Codec("float64").encode(1.0) == [0x3FF0, 0, 0, 0]


@pytest.mark.parametrize(("word", "byte"), ORDERS)
@pytest.mark.parametrize(("data_type", "value"), [
    ("int16", -12345), ("uint16", 54321), ("int32", -2_000_000_000), ("uint32", 4_000_000_000),
    ("float32", 3.5), ("float64", -1234.5678901234), ("bool", True),
])
def test_it_round_trips_each_type_in_each_order(data_type, value, word, byte):
    codec = Codec(data_type, word_order=word, byte_order=byte)
    regs = codec.encode(value)
    assert len(regs) == register_count(data_type)
    assert codec.decode(regs) == value


@given(st.floats(width=32, allow_nan=False, allow_infinity=False), st.sampled_from(ORDERS))
def test_it_round_trips_any_float32(value, order):
    # Decoded at float32 precision (the shortest decimal), which encodes back to the very same registers.
    codec = Codec("float32", word_order=order[0], byte_order=order[1])
    regs = codec.encode(value)
    assert codec.encode(codec.decode(regs)) == regs
    assert struct.pack("<f", codec.decode(regs)) == struct.pack("<f", value)


@given(st.integers(-(2**31), 2**31 - 1), st.sampled_from(ORDERS))
def test_it_round_trips_any_int32(value, order):
    codec = Codec("int32", word_order=order[0], byte_order=order[1])
    assert all(0 <= r <= 0xFFFF for r in codec.encode(value))
    assert codec.decode(codec.encode(value)) == value


@pytest.mark.parametrize("byte", ["big", "little"])
def test_it_round_trips_strings_padded_with_nul(byte):
    codec = Codec("string", string_length=4, byte_order=byte)
    regs = codec.encode("PUMP")
    assert len(regs) == 4
    assert codec.decode(regs) == "PUMP"
    assert Codec("string", string_length=2).encode("AB") == [0x4142, 0x0000]


def test_it_refuses_a_string_longer_than_its_registers():
    with pytest.raises(CodecError, match="longer than 4 characters"):
        Codec("string", string_length=2).encode("TOO LONG")


def test_it_scales_raw_to_engineering_units_and_back():
    codec = Codec("int16", scaling=Scaling(0, 10000, 0, 10))
    assert codec.decode([2500]) == pytest.approx(2.5)
    assert codec.encode(2.5) == [2500]
    offset = Codec("uint16", scaling=Scaling(4000, 20000, -50, 150))  # a 4–20 mA card in µA
    assert offset.decode([12000]) == pytest.approx(50.0)
    assert offset.encode(-50) == [4000]


def test_it_rounds_scaled_values_for_integer_tags():
    codec = Codec("uint32", word_order="little", scaling=Scaling(0, 3600, 0, 1), integer_eu=True)
    regs = codec.encode(1287.0)
    assert codec.decode(regs) == 1287 and isinstance(codec.decode(regs), int)


def test_it_refuses_values_outside_the_integer_range_after_scaling():
    codec = Codec("int16", scaling=Scaling(0, 10000, 0, 10))
    with pytest.raises(CodecError, match="outside the int16 range"):
        codec.encode(40.0)  # 40000 raw
    with pytest.raises(CodecError, match="uint16"):
        Codec("uint16").encode(-1)
    with pytest.raises(CodecError, match="not a number"):
        Codec("float32").encode("1.0")
    with pytest.raises(CodecError, match="float32 range"):
        Codec("float32").encode(1e39)


def test_it_passes_nan_through_as_a_float_so_the_recorder_can_flag_it():
    assert math.isnan(Codec("float32").decode([0x7FC0, 0x0000]))
