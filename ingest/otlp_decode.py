"""OTLP export requests (protobuf or OTLP/JSON) -> column batches for otel_traces / otel_logs.

The rows are exactly what the OpenTelemetry Collector's ClickHouse exporter writes for the same
data: ids as lowercase hex, ``SpanKind`` as ``Server``/``Client``/..., ``StatusCode`` as
``Unset``/``Ok``/``Error``, ``Timestamp`` the span start, ``Duration`` in nanoseconds,
``ServiceName`` from the resource's ``service.name``, attribute values as `otlp_attributes`
stringifies them. Timestamps are kept as integer nanoseconds (``DateTime64(9)`` ticks) so no
precision is lost on the way in.

Protobuf bodies are parsed into the wire-compatible shallow classes of `otlp_wire` (upb) and
walked once, appending straight to per-column lists; attributes go through a cache of their
serialized bytes. OTLP/JSON bodies (`otlp_json`) become the same protobuf message first, so both
encodings share one walker.

Items with invalid ids are rejected one by one (counted for OTLP's ``partial_success``) while
the rest of the request is kept; a body that cannot be decoded at all raises `InputError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from errors import InputError
from ingest import otlp_json
from ingest.otlp_attributes import any_value_to_str, attributes_to_map, string_attribute
from ingest.otlp_wire import KeyValueCache, LogsRequest, TraceRequest

TRACES_TABLE = "otel_traces"
LOGS_TABLE = "otel_logs"

TRACE_COLUMNS: tuple[str, ...] = (
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes",
    "Duration", "StatusCode", "StatusMessage",
    "Events.Timestamp", "Events.Name", "Events.Attributes",
    "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
)  # fmt: skip

LOG_COLUMNS: tuple[str, ...] = (
    "Timestamp", "TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber",
    "ServiceName", "Body", "ResourceSchemaUrl", "ResourceAttributes", "ScopeSchemaUrl",
    "ScopeName", "ScopeVersion", "ScopeAttributes", "LogAttributes", "EventName",
)  # fmt: skip

# The exporter's strings for the proto enums (pdata's SpanKind.String() / StatusCode.String()).
SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")

_KIND_NAMES = dict(enumerate(SPAN_KINDS))
_STATUS_NAMES = dict(enumerate(STATUS_CODES))
_PER_SCOPE_TRACE_COLUMNS = ("ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion")
_EMPTY: list[Any] = []
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)


@dataclass
class ColumnBatch:
    """Decoded rows for one table, column-oriented, plus what was rejected and why."""

    table: str
    columns: dict[str, list[Any]]
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows accepted (every column has this many values)."""
        first = next(iter(self.columns.values()), [])
        return len(first)

    @property
    def error_message(self) -> str:
        """A short account of the rejections for ``partial_success.error_message``."""
        if not self.errors:
            return ""
        shown = "; ".join(self.errors[:3])
        more = len(self.errors) - 3
        return f"{shown}; and {more} more" if more > 0 else shown


class _Rejections:
    """Counts rejected items, keeping the first few reasons (a bad batch can hold millions)."""

    def __init__(self) -> None:
        self.count = 0
        self.errors: list[str] = []
        self._reasons: dict[str, str] = {}

    def explain(self, where: str, reason: str) -> None:
        """Record the reason an earlier stage found for the item at ``where`` (OTLP/JSON ids
        that are not hex), to be reported when the decoder rejects it."""
        self._reasons[where] = reason

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.errors) < 10:
            self.errors.append(f"{where}: {self._reasons.get(where, reason)}")


def _id_problem(raw: bytes, size: int, required: bool) -> str | None:
    """Why an id is unusable, or None. Required ids must be non-zero (OTLP: 'valid')."""
    if len(raw) == size:
        if required and not any(raw):
            return "is all zeros"
        return None
    if not raw and not required:
        return None
    return f"must be {size} bytes, got {len(raw)}"


def _hex_or_empty(raw: bytes) -> str:
    """Lowercase hex, '' for an absent or all-zero id (as the exporter writes them)."""
    return raw.hex() if any(raw) else ""


# -- traces --------------------------------------------------------------------------------


class _StatusCache(dict[bytes, tuple[str, str]]):
    """Serialized ``Status`` -> ``(StatusCode string, message)``; statuses repeat a lot."""

    def __missing__(self, raw: bytes) -> tuple[str, str]:
        status = Status.FromString(raw)
        pair = (_STATUS_NAMES.get(status.code, ""), status.message)
        if len(self) >= 10_000:
            self.clear()
        self[raw] = pair
        return pair


_ATTRIBUTES = KeyValueCache()
_STATUSES = _StatusCache()
_STATUSES[b""] = ("Unset", "")


def _scope_fields(raw: bytes) -> tuple[str, str, dict[str, str]]:
    scope = InstrumentationScope.FromString(raw)
    return scope.name, scope.version, attributes_to_map(scope.attributes)


def _resource_fields(raw: bytes) -> tuple[dict[str, str], str]:
    attributes = Resource.FromString(raw).attributes
    return attributes_to_map(attributes), string_attribute(attributes, "service.name")


def traces_from_request(request: Any, rejected: _Rejections | None = None) -> ColumnBatch:
    """Walk a trace export request (`otlp_wire.TraceRequest`) into ``otel_traces`` columns."""
    rejections = rejected or _Rejections()
    cols: dict[str, list[Any]] = {name: [] for name in TRACE_COLUMNS}
    # This loop runs once per span: bound appends, constants in locals, no per-span dicts.
    (
        ts_, trace_, span_, parent_, state_, name_, kind_, attrs_, dur_, code_, msg_,
        ev_ts, ev_name, ev_attrs, ln_trace, ln_span, ln_state, ln_attrs,
    ) = (cols[name].append for name in TRACE_COLUMNS if name not in _PER_SCOPE_TRACE_COLUMNS)  # fmt: skip
    services, resources, scope_names, scope_versions = (
        cols[name] for name in _PER_SCOPE_TRACE_COLUMNS
    )
    kinds, empty = _KIND_NAMES, _EMPTY
    attribute, status_of = _ATTRIBUTES.__getitem__, _STATUSES.__getitem__
    zero_trace, zero_span = _ZERO_TRACE_ID, _ZERO_SPAN_ID
    for ri, resource_spans in enumerate(request.resource_spans):
        resource_map, service = _resource_fields(resource_spans.resource)
        for si, scope_spans in enumerate(resource_spans.scope_spans):
            scope_name, scope_version, _ = _scope_fields(scope_spans.scope)
            accepted = 0
            for pi, span in enumerate(scope_spans.spans):
                trace_id, span_id, parent_id = span.trace_id, span.span_id, span.parent_span_id
                if (
                    len(trace_id) != 16
                    or len(span_id) != 8
                    or trace_id == zero_trace
                    or span_id == zero_span
                    or (parent_id and len(parent_id) != 8)
                ):
                    where = f"resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]"
                    rejections.add(where, _span_id_problem(trace_id, span_id, parent_id) or "")
                    continue
                accepted += 1
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                ts_(start)
                trace_(trace_id.hex())
                span_(span_id.hex())
                parent_("" if not parent_id or parent_id == zero_span else parent_id.hex())
                state_(span.trace_state)
                name_(span.name)
                kind_(kinds.get(span.kind, ""))
                attrs_(dict(map(attribute, span.attributes)))
                # A clock step can make end < start; a negative duration is meaningless.
                dur_(end - start if end > start else 0)
                code, message = status_of(span.status)
                code_(code)
                msg_(message)
                events = span.events
                if events:
                    parsed = [Span.Event.FromString(raw) for raw in events]
                    ev_ts([e.time_unix_nano for e in parsed])
                    ev_name([e.name for e in parsed])
                    ev_attrs([attributes_to_map(e.attributes) for e in parsed])
                else:
                    # One shared empty list: rows are never mutated after decoding.
                    ev_ts(empty)
                    ev_name(empty)
                    ev_attrs(empty)
                links = span.links
                if links:
                    parsed_links = [Span.Link.FromString(raw) for raw in links]
                    ln_trace([_hex_or_empty(link.trace_id) for link in parsed_links])
                    ln_span([_hex_or_empty(link.span_id) for link in parsed_links])
                    ln_state([link.trace_state for link in parsed_links])
                    ln_attrs([attributes_to_map(link.attributes) for link in parsed_links])
                else:
                    ln_trace(empty)
                    ln_span(empty)
                    ln_state(empty)
                    ln_attrs(empty)
            # Resource and scope values are the same for every span of the scope.
            services.extend([service] * accepted)
            resources.extend([resource_map] * accepted)
            scope_names.extend([scope_name] * accepted)
            scope_versions.extend([scope_version] * accepted)
    return ColumnBatch(TRACES_TABLE, cols, rejections.count, rejections.errors)


def _span_id_problem(trace_id: bytes, span_id: bytes, parent_id: bytes) -> str | None:
    for label, raw, size, required in (
        ("traceId", trace_id, 16, True),
        ("spanId", span_id, 8, True),
        ("parentSpanId", parent_id, 8, False),
    ):
        problem = _id_problem(raw, size, required)
        if problem:
            return f"{label} {problem}"
    return None


# -- logs ----------------------------------------------------------------------------------


def logs_from_request(request: Any, rejected: _Rejections | None = None) -> ColumnBatch:
    """Walk a logs export request (`otlp_wire.LogsRequest`) into ``otel_logs`` columns."""
    rejections = rejected or _Rejections()
    cols: dict[str, list[Any]] = {name: [] for name in LOG_COLUMNS}
    (
        ts_, trace_, span_, flags_, sev_text, sev_num, service_, body_, res_url, res_attrs,
        scope_url, scope_n, scope_v, scope_attrs, attrs_, event_,
    ) = (cols[name].append for name in LOG_COLUMNS)  # fmt: skip
    attribute = _ATTRIBUTES.__getitem__
    for ri, resource_logs in enumerate(request.resource_logs):
        resource_map, service = _resource_fields(resource_logs.resource)
        resource_url = resource_logs.schema_url
        for si, scope_logs in enumerate(resource_logs.scope_logs):
            scope_name, scope_version, scope_map = _scope_fields(scope_logs.scope)
            scope_url_value = scope_logs.schema_url
            for li, record in enumerate(scope_logs.log_records):
                trace_id, span_id = record.trace_id, record.span_id
                if trace_id or span_id:
                    problem = _log_id_problem(trace_id, span_id)
                    if problem:
                        where = f"resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]"
                        rejections.add(where, problem)
                        continue
                # The exporter falls back to the observed time when the event time is unset.
                ts_(record.time_unix_nano or record.observed_time_unix_nano)
                trace_(_hex_or_empty(trace_id) if trace_id else "")
                span_(_hex_or_empty(span_id) if span_id else "")
                flags_(record.flags & 0xFF)
                sev_text(record.severity_text)
                severity = record.severity_number
                sev_num(severity if 0 <= severity <= 255 else 0)
                service_(service)
                body = record.body
                body_(any_value_to_str(AnyValue.FromString(body)) if body else "")
                res_url(resource_url)
                res_attrs(resource_map)
                scope_url(scope_url_value)
                scope_n(scope_name)
                scope_v(scope_version)
                scope_attrs(scope_map)
                attrs_(dict(map(attribute, record.attributes)))
                event_(record.event_name)
    return ColumnBatch(LOGS_TABLE, cols, rejections.count, rejections.errors)


def _log_id_problem(trace_id: bytes, span_id: bytes) -> str | None:
    for label, raw, size in (("traceId", trace_id, 16), ("spanId", span_id, 8)):
        problem = _id_problem(raw, size, required=False)
        if problem:
            return f"{label} {problem}"
    return None


# -- entry points --------------------------------------------------------------------------


def _walk(
    walker: Callable[..., ColumnBatch],
    wire_type: Any,
    body: bytes,
    what: str,
    rejected: _Rejections | None = None,
) -> ColumnBatch:
    try:
        return walker(wire_type.FromString(body), rejected)
    except DecodeError as exc:
        raise InputError(f"cannot decode the protobuf {what} request: {exc}") from exc


def decode_traces_protobuf(body: bytes) -> ColumnBatch:
    """``application/x-protobuf`` ExportTraceServiceRequest -> otel_traces columns."""
    return _walk(traces_from_request, TraceRequest, body, "traces")


def decode_logs_protobuf(body: bytes) -> ColumnBatch:
    """``application/x-protobuf`` ExportLogsServiceRequest -> otel_logs columns."""
    return _walk(logs_from_request, LogsRequest, body, "logs")


def decode_traces_json(body: bytes) -> ColumnBatch:
    """OTLP/JSON ExportTraceServiceRequest -> otel_traces columns."""
    rejections = _Rejections()
    request = otlp_json.traces_request(body, rejections.explain)
    return _walk(
        traces_from_request, TraceRequest, request.SerializeToString(), "traces", rejections
    )


def decode_logs_json(body: bytes) -> ColumnBatch:
    """OTLP/JSON ExportLogsServiceRequest -> otel_logs columns."""
    rejections = _Rejections()
    request = otlp_json.logs_request(body, rejections.explain)
    return _walk(logs_from_request, LogsRequest, request.SerializeToString(), "logs", rejections)


DECODERS: dict[tuple[str, str], Callable[[bytes], ColumnBatch]] = {
    ("traces", "protobuf"): decode_traces_protobuf,
    ("traces", "json"): decode_traces_json,
    ("logs", "protobuf"): decode_logs_protobuf,
    ("logs", "json"): decode_logs_json,
}
