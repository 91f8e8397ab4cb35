"""OTLP/JSON request bodies -> protobuf export requests.

OTLP/JSON is the protobuf JSON mapping with a few rules of its own (OTLP specification,
"JSON Protobuf Encoding"): ``traceId``/``spanId`` are hex strings, not base64; enums are
integers; keys are lowerCamelCase; 64-bit integers may be strings or numbers; receivers must
ignore unknown fields. Here the hex ids are turned into the base64 the protobuf JSON parser
expects, then that parser builds the message (it also accepts the proto field names, e.g.
``trace_id``, which some senders use).

An item whose ids are not hex is rejected (it counts in ``partial_success``; ``reject(where,
reason)`` records why); anything else malformed makes the whole body `InputError`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from errors import InputError

Reject = Callable[[str, str], None]

# One byte, base64: an id of the wrong length for any id field, so the decoder rejects the item.
_INVALID_ID = "AA=="


def traces_request(body: bytes, reject: Reject) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON ExportTraceServiceRequest."""
    data = _load(body, "traces")
    for ri, resource in enumerate(_items(data, "resourceSpans", "resource_spans")):
        for si, scope in enumerate(_items(resource, "scopeSpans", "scope_spans")):
            where = f"resourceSpans[{ri}].scopeSpans[{si}].spans"
            _convert_items(scope, ("spans",), where, reject, _convert_span_ids)
    request = ExportTraceServiceRequest()
    _parse(data, request, "traces")
    return request


def logs_request(body: bytes, reject: Reject) -> ExportLogsServiceRequest:
    """Parse an OTLP/JSON ExportLogsServiceRequest."""
    data = _load(body, "logs")
    for ri, resource in enumerate(_items(data, "resourceLogs", "resource_logs")):
        for si, scope in enumerate(_items(resource, "scopeLogs", "scope_logs")):
            where = f"resourceLogs[{ri}].scopeLogs[{si}].logRecords"
            _convert_items(scope, ("logRecords", "log_records"), where, reject, _convert_log_ids)
    request = ExportLogsServiceRequest()
    _parse(data, request, "logs")
    return request


def _load(body: bytes, what: str) -> dict[str, Any]:
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


def _items(container: Any, camel: str, snake: str) -> list[Any]:
    """The list under a key (lowerCamelCase or proto name). Shape errors are left to the
    protobuf JSON parser, which names the offending field."""
    if not isinstance(container, dict):
        return []
    value = container.get(camel, container.get(snake))
    return value if isinstance(value, list) else []


def _convert_items(
    scope: Any,
    keys: tuple[str, ...],
    where: str,
    reject: Reject,
    convert: Callable[[dict[str, Any]], tuple[str, str] | None],
) -> None:
    """Convert hex ids in place. An item with an id that is not hex keeps its place (so
    positions in messages stay true) but gets an id of the wrong length, which the decoder
    rejects; ``reject`` records the real reason for that position."""
    if not isinstance(scope, dict):
        return
    for key in keys:
        items = scope.get(key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            problem = convert(item) if isinstance(item, dict) else None
            if problem:
                id_key, reason = problem
                item[id_key] = _INVALID_ID
                reject(f"{where}[{index}]", reason)


def _hex_to_base64(item: dict[str, Any], camel: str, snake: str) -> tuple[str, str] | None:
    """Replace a hex id by the base64 the protobuf JSON mapping expects; else (key, why not)."""
    for key in (camel, snake):
        value = item.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            return key, f"{camel} must be a hex string, got {type(value).__name__}"
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return key, f"{camel} is not hex: {value[:40]!r}"
        item[key] = base64.b64encode(raw).decode("ascii")
    return None


def _convert_span_ids(span: dict[str, Any]) -> tuple[str, str] | None:
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
                    # A bad link id rejects its span: mark the span's own id.
                    span.pop("span_id", None)
                    return "spanId", f"links[{index}].{problem[1]}"
    return None


def _convert_log_ids(record: dict[str, Any]) -> tuple[str, str] | None:
    for camel, snake in (("traceId", "trace_id"), ("spanId", "span_id")):
        if problem := _hex_to_base64(record, camel, snake):
            return problem
    return None


def _parse(data: dict[str, Any], message: Message, what: str) -> None:
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, TypeError, ValueError) as exc:
        raise InputError(f"invalid OTLP/JSON {what} request: {exc}") from exc
