"""OTLP attribute values as strings, exactly as the Collector's ClickHouse exporter stores them.

The exporter writes every attribute into a ``Map(String, String)`` through pdata's
``Value.AsString()``: strings as they are, ints in decimal, bools ``true``/``false``, doubles
in the shortest round-trip form with ECMAScript's layout (``1``, ``0.5``, ``1e+21``,
``1.5e-7``), bytes in standard base64, arrays and maps as compact JSON (Go's
``encoding/json``: keys sorted, ``<``, ``>``, ``&`` escaped), an empty value as ``""``.
Matching it byte for byte means queries written against a Collector-fed database work
unchanged on andon's, and the other way round.
"""

from __future__ import annotations

import base64
import json
import math
from decimal import Decimal
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_GO_JSON_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def format_double(value: float) -> str:
    """A double as Go's pdata prints it (ECMAScript number-to-string, shortest round trip)."""
    if math.isnan(value):
        return "json: unsupported value: NaN"
    if math.isinf(value):
        return f"json: unsupported value: {'+' if value > 0 else '-'}Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = repr(value)
    magnitude = abs(value)
    if 1e-6 <= magnitude < 1e21:
        if "e" in text:
            text = format(Decimal(text), "f")
        return text.removesuffix(".0")
    # Exponent form: Go writes e-07 as e-7 (but keeps e+21 and three-digit exponents).
    mantissa, _, exponent = text.partition("e")
    sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
    return f"{mantissa}e{sign}{digits}"


class _Unencodable(Exception):
    """A value Go's encoding/json refuses (NaN, infinities): the exporter then stores ''."""


def _json_string(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escaped in _GO_JSON_ESCAPES:
        if char in quoted:
            quoted = quoted.replace(char, escaped)
    return quoted


def _go_json(value: AnyValue) -> str:
    """The value as Go's ``json.Marshal(v.AsRaw())`` writes it: compact, map keys sorted."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return _json_string(value.string_value)
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        if not math.isfinite(value.double_value):
            raise _Unencodable
        return format_double(value.double_value)
    if kind == "bytes_value":
        return '"' + base64.b64encode(value.bytes_value).decode("ascii") + '"'
    if kind == "array_value":
        return "[" + ",".join(_go_json(v) for v in value.array_value.values) + "]"
    if kind == "kvlist_value":
        entries = {kv.key: kv.value for kv in value.kvlist_value.values}  # last key wins
        return (
            "{"
            + ",".join(f"{_json_string(k)}:{_go_json(entries[k])}" for k in sorted(entries))
            + "}"
        )
    return "null"


def any_value_to_str(value: AnyValue) -> str:
    """One attribute value as the exporter stores it (see the module doc)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        return format_double(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind is None:
        return ""
    try:
        return _go_json(value)
    except _Unencodable:
        return ""


def attributes_to_map(attributes: Any) -> dict[str, str]:
    """A repeated ``KeyValue`` field as the exporter's ``Map(String, String)`` (last key wins)."""
    out: dict[str, str] = {}
    for kv in attributes:
        value = kv.value
        # Most values are non-empty strings: one field read instead of a oneof lookup.
        text = value.string_value
        if text:
            out[kv.key] = text
            continue
        kind = value.WhichOneof("value")
        if kind == "int_value":
            out[kv.key] = str(value.int_value)
        elif kind == "string_value":
            out[kv.key] = ""
        else:
            out[kv.key] = any_value_to_str(value)
    return out


def string_attribute(attributes: Any, key: str) -> str:
    """The string value of one attribute, '' when absent or not a string (pdata ``Str()``)."""
    found = ""
    for kv in attributes:
        if kv.key == key:
            found = kv.value.string_value if kv.value.WhichOneof("value") == "string_value" else ""
    return found
