"""OTLP/JSON request bodies -> protobuf export requests.

OTLP/JSON is the protobuf JSON mapping with a few rules of its own (OTLP specification,
"JSON Protobuf Encoding"): ``traceId``/``spanId`` are hex strings, not base64; enums are
integers; keys are lowerCamelCase; 64-bit integers may be strings or numbers; receivers must
ignore unknown fields. Here the hex ids are turned into the base64 the protobuf JSON parser
expects, then that parser builds the message (it also accepts the proto field names, e.g.
``trace_id``, which some senders use).

An item whose ids are not hex is dropped and reported through ``reject(where, reason)`` (it
counts in ``partial_success``); anything else malformed makes the whole body `InputError`.
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
    convert: Callable[[dict[str, Any]], str | None],
) -> None:
    """Convert hex ids in place; drop (and report) the items whose ids are not hex."""
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
                reject(f"{where}[{index}]", problem)
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


def _parse(data: dict[str, Any], message: Message, what: str) -> None:
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, TypeError, ValueError) as exc:
        raise InputError(f"invalid OTLP/JSON {what} request: {exc}") from exc
