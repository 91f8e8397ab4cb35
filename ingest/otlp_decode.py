"""OTLP export requests (protobuf or OTLP/JSON) -> column batches for otel_traces / otel_logs.

The rows are exactly what the OpenTelemetry Collector's ClickHouse exporter writes for the same
data: ids as lowercase hex, ``SpanKind`` as ``Server``/``Client``/..., ``StatusCode`` as
``Unset``/``Ok``/``Error``, ``Timestamp`` the span start, ``Duration`` in nanoseconds,
``ServiceName`` from the resource's ``service.name``, attribute values as `otlp_attributes`
stringifies them. Timestamps are kept as integer nanoseconds (``DateTime64(9)`` ticks) so no
precision is lost on the way in.

Protobuf bodies are parsed with the upb-backed ``opentelemetry.proto`` classes and walked once,
appending straight to per-column lists (no per-span dicts). OTLP/JSON bodies follow the OTLP
JSON rules (lowerCamelCase keys, hex ids, integer enums, int64s as strings or numbers, unknown
fields ignored): ids are turned from hex into bytes, then the protobuf JSON mapping builds the
same message, so both encodings share one walker.

Items with invalid ids are rejected one by one (counted for OTLP's ``partial_success``) while
the rest of the request is kept; a body that cannot be decoded at all raises `InputError`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from errors import InputError
from ingest.otlp_attributes import any_value_to_str, attributes_to_map, string_attribute

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

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.errors) < 10:
            self.errors.append(f"{where}: {reason}")


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


def traces_from_request(
    request: ExportTraceServiceRequest, rejected: _Rejections | None = None
) -> ColumnBatch:
    """Walk a decoded trace export request into ``otel_traces`` columns."""
    rejections = rejected or _Rejections()
    cols: dict[str, list[Any]] = {name: [] for name in TRACE_COLUMNS}
    # Bound appends: this loop runs once per span, so attribute lookups add up.
    # Bound appends, in TRACE_COLUMNS order: this loop runs once per span.
    (
        ts_, trace_, span_, parent_, state_, name_, kind_, service_, res_, scope_n, scope_v,
        attrs_, dur_, code_, msg_, ev_ts, ev_name, ev_attrs, ln_trace, ln_span, ln_state, ln_attrs,
    ) = (cols[name].append for name in TRACE_COLUMNS)  # fmt: skip
    kinds, codes = SPAN_KINDS, STATUS_CODES
    for ri, resource_spans in enumerate(request.resource_spans):
        resource_attrs = resource_spans.resource.attributes
        resource_map = attributes_to_map(resource_attrs)
        service = string_attribute(resource_attrs, "service.name")
        for si, scope_spans in enumerate(resource_spans.scope_spans):
            scope = scope_spans.scope
            scope_name, scope_version = scope.name, scope.version
            for pi, span in enumerate(scope_spans.spans):
                trace_id, span_id, parent_id = span.trace_id, span.span_id, span.parent_span_id
                if (
                    len(trace_id) != 16
                    or len(span_id) != 8
                    or trace_id == _ZERO_TRACE_ID
                    or span_id == _ZERO_SPAN_ID
                    or (parent_id and len(parent_id) != 8)
                ):
                    where = f"resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]"
                    rejections.add(where, _span_id_problem(trace_id, span_id, parent_id) or "")
                    continue
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                ts_(start)
                trace_(trace_id.hex())
                span_(span_id.hex())
                parent_("" if not parent_id or parent_id == _ZERO_SPAN_ID else parent_id.hex())
                state_(span.trace_state)
                name_(span.name)
                kind = span.kind
                kind_(kinds[kind] if 0 <= kind < 6 else "")
                service_(service)
                res_(resource_map)
                scope_n(scope_name)
                scope_v(scope_version)
                attrs_(attributes_to_map(span.attributes))
                # A clock step can make end < start; a negative duration is meaningless.
                dur_(end - start if end > start else 0)
                status = span.status
                code = status.code
                code_(codes[code] if 0 <= code < 3 else "")
                msg_(status.message)
                events = span.events
                if events:
                    ev_ts([e.time_unix_nano for e in events])
                    ev_name([e.name for e in events])
                    ev_attrs([attributes_to_map(e.attributes) for e in events])
                else:
                    ev_ts([])
                    ev_name([])
                    ev_attrs([])
                links = span.links
                if links:
                    ln_trace([_hex_or_empty(link.trace_id) for link in links])
                    ln_span([_hex_or_empty(link.span_id) for link in links])
                    ln_state([link.trace_state for link in links])
                    ln_attrs([attributes_to_map(link.attributes) for link in links])
                else:
                    ln_trace([])
                    ln_span([])
                    ln_state([])
                    ln_attrs([])
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


def logs_from_request(
    request: ExportLogsServiceRequest, rejected: _Rejections | None = None
) -> ColumnBatch:
    """Walk a decoded logs export request into ``otel_logs`` columns."""
    rejections = rejected or _Rejections()
    cols: dict[str, list[Any]] = {name: [] for name in LOG_COLUMNS}
    (
        ts_, trace_, span_, flags_, sev_text, sev_num, service_, body_, res_url, res_attrs,
        scope_url, scope_n, scope_v, scope_attrs, attrs_, event_,
    ) = (cols[name].append for name in LOG_COLUMNS)  # fmt: skip
    for ri, resource_logs in enumerate(request.resource_logs):
        resource_attributes = resource_logs.resource.attributes
        resource_map = attributes_to_map(resource_attributes)
        service = string_attribute(resource_attributes, "service.name")
        resource_url = resource_logs.schema_url
        for si, scope_logs in enumerate(resource_logs.scope_logs):
            scope = scope_logs.scope
            scope_name, scope_version = scope.name, scope.version
            scope_map = attributes_to_map(scope.attributes)
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
                body_(any_value_to_str(record.body) if record.HasField("body") else "")
                res_url(resource_url)
                res_attrs(resource_map)
                scope_url(scope_url_value)
                scope_n(scope_name)
                scope_v(scope_version)
                scope_attrs(scope_map)
                attrs_(attributes_to_map(record.attributes))
                event_(record.event_name)
    return ColumnBatch(LOGS_TABLE, cols, rejections.count, rejections.errors)


def _log_id_problem(trace_id: bytes, span_id: bytes) -> str | None:
    for label, raw, size in (("traceId", trace_id, 16), ("spanId", span_id, 8)):
        problem = _id_problem(raw, size, required=False)
        if problem:
            return f"{label} {problem}"
    return None


# -- entry points --------------------------------------------------------------------------


def _parse_protobuf(message_type: type[Message], body: bytes, what: str) -> Any:
    try:
        return message_type.FromString(body)
    except DecodeError as exc:
        raise InputError(f"cannot decode the protobuf {what} request: {exc}") from exc


def decode_traces_protobuf(body: bytes) -> ColumnBatch:
    """``application/x-protobuf`` ExportTraceServiceRequest -> otel_traces columns."""
    return traces_from_request(_parse_protobuf(ExportTraceServiceRequest, body, "traces"))


def decode_logs_protobuf(body: bytes) -> ColumnBatch:
    """``application/x-protobuf`` ExportLogsServiceRequest -> otel_logs columns."""
    return logs_from_request(_parse_protobuf(ExportLogsServiceRequest, body, "logs"))


def decode_traces_json(body: bytes) -> ColumnBatch:
    """OTLP/JSON ExportTraceServiceRequest -> otel_traces columns."""
    data = _load_json(body, "traces")
    rejections = _Rejections()
    for ri, resource in enumerate(_items(data, "resourceSpans", "resource_spans", "")):
        for si, scope in enumerate(_items(resource, "scopeSpans", "scope_spans", f"[{ri}]")):
            where = f"resourceSpans[{ri}].scopeSpans[{si}]"
            _filter_items(scope, ("spans",), where + ".spans", rejections, _convert_span_ids)
    request = _from_json(ExportTraceServiceRequest, data, "traces")
    return traces_from_request(request, rejections)


def decode_logs_json(body: bytes) -> ColumnBatch:
    """OTLP/JSON ExportLogsServiceRequest -> otel_logs columns."""
    data = _load_json(body, "logs")
    rejections = _Rejections()
    for ri, resource in enumerate(_items(data, "resourceLogs", "resource_logs", "")):
        for si, scope in enumerate(_items(resource, "scopeLogs", "scope_logs", f"[{ri}]")):
            where = f"resourceLogs[{ri}].scopeLogs[{si}].logRecords"
            _filter_items(scope, ("logRecords", "log_records"), where, rejections, _convert_log_ids)
    request = _from_json(ExportLogsServiceRequest, data, "logs")
    return logs_from_request(request, rejections)


DECODERS: dict[tuple[str, str], Callable[[bytes], ColumnBatch]] = {
    ("traces", "protobuf"): decode_traces_protobuf,
    ("traces", "json"): decode_traces_json,
    ("logs", "protobuf"): decode_logs_protobuf,
    ("logs", "json"): decode_logs_json,
}


# -- OTLP/JSON specifics -------------------------------------------------------------------


def _load_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except UnicodeDecodeError as exc:
        raise InputError(f"the JSON {what} request is not UTF-8: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON in the {what} request at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(data, dict):
        raise InputError(f"the JSON {what} request must be an object, got {type(data).__name__}")
    return data


def _items(container: Any, camel: str, snake: str, where: str) -> list[Any]:
    """The list under a key (lowerCamelCase or the proto name); shape errors are left to the
    protobuf JSON parser, which names the field."""
    if not isinstance(container, dict):
        return []
    value = container.get(camel, container.get(snake))
    return value if isinstance(value, list) else []


def _filter_items(
    scope: Any,
    keys: tuple[str, ...],
    where: str,
    rejections: _Rejections,
    convert: Callable[[dict[str, Any]], str | None],
) -> None:
    """Convert hex ids in place; drop (and count) the items whose ids are not valid hex."""
    if not isinstance(scope, dict):
        return
    for key in keys:
        items = scope.get(key)
        if not isinstance(items, list):
            continue
        kept = []
        for index, item in enumerate(items):
            problem = convert(item) if isinstance(item, dict) else None
            if problem:
                rejections.add(f"{where}[{index}]", problem)
            else:
                kept.append(item)
        scope[key] = kept


def _hex_to_base64(item: dict[str, Any], camel: str, snake: str) -> str | None:
    """Replace a hex id by the base64 the protobuf JSON mapping expects; say why it can't."""
    for key in (camel, snake):
        value = item.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{camel} must be a hex string, got {type(value).__name__}"
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return f"{camel} is not hex: {value[:40]!r}"
        item[key] = base64.b64encode(raw).decode("ascii")
    return None


def _convert_span_ids(span: dict[str, Any]) -> str | None:
    for camel, snake in (
        ("traceId", "trace_id"),
        ("spanId", "span_id"),
        ("parentSpanId", "parent_span_id"),
    ):
        if problem := _hex_to_base64(span, camel, snake):
            return problem
    links = span.get("links")
    if isinstance(links, list):
        for index, link in enumerate(links):
            if not isinstance(link, dict):
                continue
            for camel, snake in (("traceId", "trace_id"), ("spanId", "span_id")):
                if problem := _hex_to_base64(link, camel, snake):
                    return f"links[{index}].{problem}"
    return None


def _convert_log_ids(record: dict[str, Any]) -> str | None:
    for camel, snake in (("traceId", "trace_id"), ("spanId", "span_id")):
        if problem := _hex_to_base64(record, camel, snake):
            return problem
    return None


def _from_json(message_type: type[Message], data: dict[str, Any], what: str) -> Any:
    message = message_type()
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, TypeError, ValueError) as exc:
        raise InputError(f"invalid OTLP/JSON {what} request: {exc}") from exc
    return message
