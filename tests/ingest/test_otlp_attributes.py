"""Attribute values stringified byte for byte as the Collector's ClickHouse exporter (Go pdata)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from ingest.otlp_attributes import any_value_to_str, attributes_to_map, format_double
from ingest.otlp_wire import KeyValueCache, _parse_keyvalue, keyvalue_to_pair


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.5, "0.5"),
        (-2.25, "-2.25"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (123456789012345678.0, "123456789012345680"),
        (-0.0, "-0"),
        (math.nan, "json: unsupported value: NaN"),
        (-math.inf, "json: unsupported value: -Inf"),
    ],
)
def test_doubles_print_like_go(value: float, text: str) -> None:
    assert format_double(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_double_strings_round_trip(value: float) -> None:
    assert float(format_double(value)) == value


@given(st.text())
def test_strings_in_json_values_round_trip(text: str) -> None:
    value = AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=text)]))
    encoded = any_value_to_str(value)
    assert json.loads(encoded) == [text]
    assert not {"<", ">", "&"} & set(encoded)  # Go's encoding/json escapes these


def test_every_value_type() -> None:
    cases = {
        "s": (AnyValue(string_value="x"), "x"),
        "i": (AnyValue(int_value=-7), "-7"),
        "b": (AnyValue(bool_value=True), "true"),
        "d": (AnyValue(double_value=2.0), "2"),
        "y": (AnyValue(bytes_value=b"\xff\x00"), "/wA="),
        "e": (AnyValue(), ""),
        "a": (
            AnyValue(array_value=ArrayValue(values=[AnyValue(double_value=1.5), AnyValue()])),
            "[1.5,null]",
        ),
        "m": (
            AnyValue(
                kvlist_value=KeyValueList(
                    values=[
                        KeyValue(key="z", value=AnyValue(int_value=1)),
                        KeyValue(key="a", value=AnyValue(bytes_value=b"hi")),
                    ]
                )
            ),
            '{"a":"aGk=","z":1}',
        ),
        "nan-in-array": (
            AnyValue(array_value=ArrayValue(values=[AnyValue(double_value=math.nan)])),
            "",
        ),
    }
    attributes = [KeyValue(key=k, value=v) for k, (v, _) in cases.items()]
    expected = {k: text for k, (_, text) in cases.items()}
    assert attributes_to_map(attributes) == expected
    cache = KeyValueCache()
    assert cache.to_map([kv.SerializeToString() for kv in attributes]) == expected
    assert cache.to_map([kv.SerializeToString() for kv in attributes]) == expected  # cached


def test_cache_is_bounded() -> None:
    cache = KeyValueCache(limit=10)
    for n in range(25):
        kv = KeyValue(key="session.id", value=AnyValue(string_value=f"s-{n}"))
        assert cache[kv.SerializeToString()] == ("session.id", f"s-{n}")
    assert len(cache) <= 10


_values = st.one_of(
    st.builds(lambda v: AnyValue(string_value=v), st.text()),
    st.builds(lambda v: AnyValue(int_value=v), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: AnyValue(double_value=v), st.floats()),
    st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=20)),
    st.just(AnyValue()),
)


@given(st.text(max_size=200), _values)
def test_fast_keyvalue_reading_agrees_with_the_protobuf_runtime(key: str, value: AnyValue) -> None:
    raw = KeyValue(key=key, value=value).SerializeToString()
    assert keyvalue_to_pair(raw) == _parse_keyvalue(raw)


def test_fast_keyvalue_reading_leaves_invalid_bytes_to_the_runtime() -> None:
    from google.protobuf.message import DecodeError

    raw = KeyValue(key="k", value=AnyValue(string_value="ok")).SerializeToString()
    broken = raw[:-2] + b"\xff\xfe"  # invalid UTF-8 in the value
    with pytest.raises(DecodeError):
        keyvalue_to_pair(broken)
    assert keyvalue_to_pair(raw) == ("k", "ok")
