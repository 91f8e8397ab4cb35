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

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from ingest.otlp_attributes import any_value_to_str

_PACKAGE = "andon.otlp_wire"

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


def keyvalue_to_pair(raw: bytes) -> tuple[str, str]:
    """A serialized ``KeyValue`` -> ``(key, value as the exporter stringifies it)``."""
    kv = KeyValue.FromString(raw)
    value = kv.value
    text = value.string_value
    return kv.key, (text if text else any_value_to_str(value))


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
