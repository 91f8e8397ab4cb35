"""Wire-compatible "shallow" views of OTLP export requests, for fast decoding.

Decoding cost is dominated by attributes: a span has a dozen ``KeyValue`` messages, and reading
each through the protobuf runtime creates several Python objects. But attribute values repeat
a lot (``http.request.method=GET``, ``url.scheme=https``, ``service.name=...``). So these
message classes mirror the OTLP ones field for field (same numbers, same wire types) except that
nested messages we do not walk (``KeyValue``, ``Status``, ``Event``, ``Link``, ``Resource``,
``InstrumentationScope``, ``AnyValue``) are declared as ``bytes``: an embedded message and a
bytes field are the same thing on the wire (length-delimited), so any valid OTLP body parses,
and each attribute arrives as its serialized bytes. `KeyValueCache` turns those bytes into
``(key, string)`` once per distinct attribute and answers repeats with a dict lookup.

Values are still fully validated: a ``KeyValue`` is parsed with the real class the first time
its bytes are seen, and the walked messages keep the real string fields (UTF-8 checked).

The classes are built at import from the real descriptors, so they cannot drift from the
``opentelemetry-proto`` version installed.
"""

from __future__ import annotations

import struct
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from ingest.otlp_attributes import any_value_to_str, format_double

_PACKAGE = "andon.otlp_wire"
_DOUBLE = struct.Struct("<d")

# The messages we walk, and for each, which message-typed fields stay (shallow) messages.
_WALKED: dict[Descriptor, set[str]] = {
    ExportTraceServiceRequest.DESCRIPTOR: {"resource_spans"},
    trace_pb2.ResourceSpans.DESCRIPTOR: {"scope_spans"},
    trace_pb2.ScopeSpans.DESCRIPTOR: {"spans"},
    trace_pb2.Span.DESCRIPTOR: set(),
    ExportLogsServiceRequest.DESCRIPTOR: {"resource_logs"},
    logs_pb2.ResourceLogs.DESCRIPTOR: {"scope_logs"},
    logs_pb2.ScopeLogs.DESCRIPTOR: {"log_records"},
    logs_pb2.LogRecord.DESCRIPTOR: set(),
}


def _build_classes() -> dict[str, Any]:
    """One shallow message class per walked OTLP message, keyed by its short name."""
    T = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="andon/otlp_wire.proto", package=_PACKAGE, syntax="proto3"
    )
    for real, walked in _WALKED.items():
        message = file.message_type.add(name=real.name)
        for field in real.fields:
            shallow = message.field.add(
                name=field.name,
                number=field.number,
                label=T.LABEL_REPEATED if field.is_repeated else T.LABEL_OPTIONAL,
            )
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if field.name in walked:
                    shallow.type = T.TYPE_MESSAGE
                    shallow.type_name = f".{_PACKAGE}.{field.message_type.name}"
                else:
                    shallow.type = T.TYPE_BYTES
            elif field.type == FieldDescriptor.TYPE_ENUM:
                shallow.type = T.TYPE_INT32  # same varint on the wire; unknown values kept
            else:
                shallow.type = field.type
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        real.name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{_PACKAGE}.{real.name}")
        )
        for real in _WALKED
    }


_CLASSES = _build_classes()
TraceRequest: Any = _CLASSES["ExportTraceServiceRequest"]
LogsRequest: Any = _CLASSES["ExportLogsServiceRequest"]


def _parse_keyvalue(raw: bytes) -> tuple[str, str]:
    kv = KeyValue.FromString(raw)
    value = kv.value
    text = value.string_value
    return kv.key, (text if text else any_value_to_str(value))


def keyvalue_to_pair(raw: bytes) -> tuple[str, str]:
    """A serialized ``KeyValue`` -> ``(key, value as the exporter stringifies it)``.

    The common encoding (a short key, then a short string, an int, a double or a bool, as every
    SDK writes them) is read directly from the bytes; anything else goes through the protobuf
    runtime. Both give the same answer (tests check it over generated values).
    """
    size = len(raw)
    if size > 4 and raw[0] == 0x0A and raw[1] < 0x80:
        end_key = 2 + raw[1]
        if end_key + 2 < size and raw[end_key] == 0x12 and raw[end_key + 1] + end_key + 2 == size:
            try:
                key = raw[2:end_key].decode()
                tag = raw[end_key + 2]
                body = end_key + 3
                if tag == 0x0A:  # string_value
                    if raw[body] < 0x80 and body + 1 + raw[body] == size:
                        return key, raw[body + 1 :].decode()
                elif tag == 0x18:  # int_value (varint, two's complement)
                    number, shift = 0, 0
                    for position in range(body, min(size, body + 10)):  # <= 10 bytes
                        byte = raw[position]
                        number |= (byte & 0x7F) << shift
                        shift += 7
                        if not byte & 0x80:
                            if position + 1 == size:
                                number &= 0xFFFFFFFFFFFFFFFF
                                return key, str(number - (1 << 64) if number >> 63 else number)
                            break
                elif tag == 0x21 and body + 8 == size:  # double_value
                    return key, format_double(_DOUBLE.unpack_from(raw, body)[0])
                elif tag == 0x10 and body + 1 == size and raw[body] < 2:  # bool_value
                    return key, "true" if raw[body] else "false"
            except UnicodeDecodeError:
                pass  # the protobuf runtime reports it properly
    return _parse_keyvalue(raw)


class KeyValueCache(dict[bytes, tuple[str, str]]):
    """Serialized ``KeyValue`` -> ``(key, string value)``, computed on first sight.

    Bounded: when it holds ``limit`` entries it starts over (high-cardinality values such as
    session ids would otherwise grow it forever). Thread-safe enough under the GIL: entries
    are immutable and a lost insert only costs a re-parse.
    """

    def __init__(self, limit: int = 200_000) -> None:
        super().__init__()
        self.limit = limit

    def __missing__(self, raw: bytes) -> tuple[str, str]:
        pair = keyvalue_to_pair(raw)
        if len(self) >= self.limit:
            self.clear()
        self[raw] = pair
        return pair

    def to_map(self, attributes: Any) -> dict[str, str]:
        """A repeated serialized ``KeyValue`` field as a ``{key: value}`` map (last key wins)."""
        return dict(map(self.__getitem__, attributes))
