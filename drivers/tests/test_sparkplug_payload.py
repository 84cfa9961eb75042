"""The Sparkplug B payload codec: the protobuf wire form of the specification's schema, strict on hostile bytes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.sparkplug.payload import (
    DataType,
    Metric,
    Payload,
    PayloadError,
    decode_payload,
    encode_payload,
)


def test_it_reads_the_wire_bytes_of_a_known_payload():
    # timestamp 1; one metric "a" Int32 −1 (int_value sign-extended to 32 bits, as Eclipse Tahu sends it); seq 0.
    data = bytes.fromhex("0801" "120b" "0a0161" "2003" "50ffffffff0f" "1800")
    p = decode_payload(data)
    assert (p.timestamp, p.seq, len(p.metrics)) == (1, 0, 1)
    assert (p.metrics[0].name, p.metrics[0].datatype, p.metrics[0].value) == ("a", DataType.INT32, -1)
    assert encode_payload(p) == data


@pytest.mark.parametrize("datatype,value", [
    (DataType.INT8, -128), (DataType.INT8, 127), (DataType.INT16, -2), (DataType.INT32, -(2 ** 31)),
    (DataType.INT64, -(2 ** 63)), (DataType.UINT8, 255), (DataType.UINT32, 2 ** 32 - 1), (DataType.UINT64, 2 ** 64 - 1),
    (DataType.FLOAT, 1.5), (DataType.DOUBLE, 72.4), (DataType.BOOLEAN, True), (DataType.BOOLEAN, False),
    (DataType.STRING, "FILLING"), (DataType.TEXT, "é💥"), (DataType.DATETIME, 1_795_000_000_000),
    (DataType.BYTES, b"\x00\x01"),
])
def test_every_scalar_datatype_survives_a_round_trip(datatype, value):
    metric = Metric(name="Line/Temp", alias=7, timestamp=1_795_000_000_123, datatype=datatype, value=value)
    back = decode_payload(encode_payload(Payload(timestamp=5, seq=255, metrics=[metric]))).metrics[0]
    assert (back.name, back.alias, back.timestamp, back.datatype, back.value) == (
        "Line/Temp", 7, 1_795_000_000_123, datatype, value)


def test_a_null_metric_has_no_value_and_a_metric_by_alias_needs_no_name():
    p = decode_payload(encode_payload(Payload(seq=1, metrics=[Metric(alias=3, datatype=DataType.DOUBLE, value=None)])))
    assert (p.metrics[0].name, p.metrics[0].alias, p.metrics[0].is_null, p.metrics[0].value) == (None, 3, True, None)


def test_int8_and_int16_are_read_in_both_forms_the_specification_allows():
    def int_metric(datatype, raw):
        body = bytearray(b"\x20" + bytes([datatype]) + b"\x50")
        while True:
            b, raw = raw & 0x7F, raw >> 7
            body.append(b | (0x80 if raw else 0))
            if not raw:
                break
        return b"\x12" + bytes([len(body)]) + bytes(body)

    assert decode_payload(int_metric(DataType.INT8, 0xFF)).metrics[0].value == -1  # width-sized
    assert decode_payload(int_metric(DataType.INT8, 0xFFFFFFFF)).metrics[0].value == -1  # sign-extended
    assert decode_payload(int_metric(DataType.INT16, 0x8000)).metrics[0].value == -32768
    with pytest.raises(PayloadError, match="Int8 value out of range"):
        decode_payload(int_metric(DataType.INT8, 0x100))
    with pytest.raises(PayloadError, match="UInt8 value out of range"):
        decode_payload(int_metric(DataType.UINT8, 0x100))


def test_arrays_datasets_and_templates_are_marked_unsupported_not_misread():
    dataset = b"\x20\x10" + b"\x8a\x01\x00"  # datatype DataSet, an empty dataset_value (field 17)
    p = decode_payload(b"\x12" + bytes([len(dataset)]) + dataset)
    assert p.metrics[0].unsupported and p.metrics[0].value is None


@pytest.mark.parametrize("data,why", [
    (b"\x08", "truncated varint"), (b"\x12\x05\x0a", "runs past the end"), (b"\x0f", "wire type"),
    (b"\x12\x03\x0a\x01\xff", "not UTF-8"), (b"\x12\x03\x0a\x01\x00", "NUL"), (b"\x18\x80\x02", "seq beyond 255"),
    (b"\x12\x04\x20\x0a\x68\x01", "wrong wire type"), (b"\x00", "field number 0"),
    (b"\x08" + b"\xff" * 10 + b"\x01", "longer than 64 bits"),
])
def test_malformed_bytes_are_refused_with_a_reason(data, why):
    with pytest.raises(PayloadError, match=why):
        decode_payload(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_no_byte_string_raises_anything_but_payload_error(data):
    try:
        p = decode_payload(data)
    except PayloadError:
        return
    for m in p.metrics:  # whatever decodes is a plain scalar a tag can take (or nothing)
        assert m.value is None or isinstance(m.value, bool | int | float | str | bytes)
        assert m.name is None or "\x00" not in m.name
