"""Spans and logs as warehouse rows, exactly as the Collector's ClickHouse exporter maps them.

Two sources, one shape: `SpanColumns.add_sdk` takes what the OpenTelemetry SDK produced
(`ReadableSpan`), `SpanColumns.add_record` takes the generator's plan directly (the bulk path for
big volumes). A test checks both give identical rows for the same scenario.

Mapping (docs/ARCHITECTURE.md, telemetry conventions): SpanKind ``Server``/``Client``/...,
StatusCode ``Unset``/``Ok``/``Error``, lowercase hex ids, ``ParentSpanId = ''`` on roots,
``Timestamp`` = span start, ``Duration`` in ns, attribute values as strings (``200``, ``true``),
``ServiceName`` = resource ``service.name``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from simulator.records import SCOPES, AttrValue, LogRecordSpec, ResourceTable, SpanRecord

KIND_NAMES = {0: "Internal", 1: "Server", 2: "Client", 3: "Producer", 4: "Consumer"}
STATUS_NAMES = {0: "Unset", 1: "Ok", 2: "Error"}

_MAP = pa.map_(pa.string(), pa.string())
_TS = pa.timestamp("ns")
TRACE_SCHEMA = pa.schema(
    [
        ("Timestamp", _TS),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("ParentSpanId", pa.string()),
        ("TraceState", pa.string()),
        ("SpanName", pa.string()),
        ("SpanKind", pa.string()),
        ("ServiceName", pa.string()),
        ("ResourceAttributes", _MAP),
        ("ScopeName", pa.string()),
        ("ScopeVersion", pa.string()),
        ("SpanAttributes", _MAP),
        ("Duration", pa.uint64()),
        ("StatusCode", pa.string()),
        ("StatusMessage", pa.string()),
        ("Events.Timestamp", pa.list_(_TS)),
        ("Events.Name", pa.list_(pa.string())),
        ("Events.Attributes", pa.list_(_MAP)),
        ("Links.TraceId", pa.list_(pa.string())),
        ("Links.SpanId", pa.list_(pa.string())),
        ("Links.TraceState", pa.list_(pa.string())),
        ("Links.Attributes", pa.list_(_MAP)),
    ]
)
LOG_SCHEMA = pa.schema(
    [
        ("Timestamp", _TS),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("TraceFlags", pa.uint8()),
        ("SeverityText", pa.string()),
        ("SeverityNumber", pa.uint8()),
        ("ServiceName", pa.string()),
        ("Body", pa.string()),
        ("ResourceSchemaUrl", pa.string()),
        ("ResourceAttributes", _MAP),
        ("ScopeSchemaUrl", pa.string()),
        ("ScopeName", pa.string()),
        ("ScopeVersion", pa.string()),
        ("ScopeAttributes", _MAP),
        ("LogAttributes", _MAP),
        ("EventName", pa.string()),
    ]
)


def attr_string(value: Any) -> str:
    """An attribute value as the Collector stores it in a Map(String, String)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value))
    return str(value)


def _attrs(attributes: Any) -> list[tuple[str, str]]:
    return [(key, attr_string(value)) for key, value in attributes.items()]


class SpanColumns:
    """Column-wise accumulation of otel_traces rows (cheap to turn into one Arrow table)."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in TRACE_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.columns["SpanId"])

    def _append(
        self,
        *,
        start: int,
        end: int,
        trace_id: int,
        span_id: int,
        parent_id: int,
        name: str,
        kind: int,
        resource: dict[str, Any],
        scope: tuple[str, str],
        attributes: Any,
        status: int,
        message: str,
        events: list[tuple[int, str, Any]],
    ) -> None:
        c = self.columns
        c["Timestamp"].append(start)
        c["TraceId"].append(f"{trace_id:032x}")
        c["SpanId"].append(f"{span_id:016x}")
        c["ParentSpanId"].append(f"{parent_id:016x}" if parent_id else "")
        c["TraceState"].append("")
        c["SpanName"].append(name)
        c["SpanKind"].append(KIND_NAMES.get(kind, "Unspecified"))
        c["ServiceName"].append(str(resource.get("service.name", "")))
        c["ResourceAttributes"].append(_attrs(resource))
        c["ScopeName"].append(scope[0])
        c["ScopeVersion"].append(scope[1])
        c["SpanAttributes"].append(_attrs(attributes))
        c["Duration"].append(end - start)
        c["StatusCode"].append(STATUS_NAMES[status])
        c["StatusMessage"].append(message)
        c["Events.Timestamp"].append([e[0] for e in events])
        c["Events.Name"].append([e[1] for e in events])
        c["Events.Attributes"].append([_attrs(e[2]) for e in events])
        c["Links.TraceId"].append([])
        c["Links.SpanId"].append([])
        c["Links.TraceState"].append([])
        c["Links.Attributes"].append([])

    def add_record(self, record: SpanRecord, resources: ResourceTable) -> None:
        """A planned span (the bulk path)."""
        self._append(
            start=record.start_ns,
            end=record.end_ns,
            trace_id=record.trace_id,
            span_id=record.span_id,
            parent_id=record.parent_id,
            name=record.name,
            kind=record.kind,
            resource=resources.items[record.resource],
            scope=SCOPES[record.scope],
            attributes=record.attributes,
            status=record.status,
            message=record.status_message,
            events=[(e.time_ns, e.name, e.attributes) for e in record.events],
        )

    def add_sdk(self, span: Any) -> None:
        """A span as the OpenTelemetry SDK finished it (`ReadableSpan`)."""
        context = span.get_span_context()
        scope = span.instrumentation_scope
        self._append(
            start=span.start_time,
            end=span.end_time,
            trace_id=context.trace_id,
            span_id=context.span_id,
            parent_id=span.parent.span_id if span.parent is not None else 0,
            name=span.name,
            kind=span.kind.value,
            resource=dict(span.resource.attributes),
            scope=(scope.name, scope.version or "") if scope else ("", ""),
            attributes=span.attributes or {},
            status=span.status.status_code.value,
            message=span.status.description or "",
            events=[(e.timestamp, e.name, e.attributes or {}) for e in span.events],
        )

    def table(self) -> pa.Table:
        """The accumulated rows as an Arrow table matching otel_traces' columns."""
        return pa.table(self.columns, schema=TRACE_SCHEMA)

    def rows(self) -> list[tuple[Any, ...]]:
        """The accumulated rows as tuples (for comparisons in tests)."""
        names = TRACE_SCHEMA.names
        return list(zip(*(self.columns[n] for n in names), strict=True))


class LogColumns:
    """Column-wise accumulation of otel_logs rows."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in LOG_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.columns["Body"])

    def _append(
        self,
        *,
        time_ns: int,
        trace_id: int,
        span_id: int,
        flags: int,
        severity_text: str,
        severity_number: int,
        body: str,
        resource: dict[str, Any],
        scope: tuple[str, str],
        attributes: Any,
    ) -> None:
        c = self.columns
        c["Timestamp"].append(time_ns)
        c["TraceId"].append(f"{trace_id:032x}" if trace_id else "")
        c["SpanId"].append(f"{span_id:016x}" if span_id else "")
        c["TraceFlags"].append(flags)
        c["SeverityText"].append(severity_text)
        c["SeverityNumber"].append(severity_number)
        c["ServiceName"].append(str(resource.get("service.name", "")))
        c["Body"].append(body)
        c["ResourceSchemaUrl"].append("")
        c["ResourceAttributes"].append(_attrs(resource))
        c["ScopeSchemaUrl"].append("")
        c["ScopeName"].append(scope[0])
        c["ScopeVersion"].append(scope[1])
        c["ScopeAttributes"].append([])
        c["LogAttributes"].append(_attrs(attributes))
        c["EventName"].append("")

    def add_record(self, record: LogRecordSpec, resources: ResourceTable) -> None:
        """A planned log record (the bulk path)."""
        self._append(
            time_ns=record.time_ns,
            trace_id=record.trace_id,
            span_id=record.span_id,
            flags=1,
            severity_text=record.severity_text,
            severity_number=record.severity_number,
            body=record.body,
            resource=resources.items[record.resource],
            scope=SCOPES[record.scope],
            attributes=record.attributes,
        )

    def add_sdk(self, data: Any) -> None:
        """A log record as the SDK exported it (`ReadableLogRecord`)."""
        record = data.log_record
        scope = data.instrumentation_scope
        self._append(
            time_ns=record.timestamp,
            trace_id=record.trace_id or 0,
            span_id=record.span_id or 0,
            flags=int(record.trace_flags or 0),
            severity_text=record.severity_text or "",
            severity_number=record.severity_number.value if record.severity_number else 0,
            body=str(record.body),
            resource=dict(data.resource.attributes),
            scope=(scope.name, scope.version or "") if scope else ("", ""),
            attributes=record.attributes or {},
        )

    def table(self) -> pa.Table:
        """The accumulated rows as an Arrow table matching otel_logs' columns."""
        return pa.table(self.columns, schema=LOG_SCHEMA)

    def rows(self) -> list[tuple[Any, ...]]:
        """The accumulated rows as tuples (for comparisons in tests)."""
        names = LOG_SCHEMA.names
        return list(zip(*(self.columns[n] for n in names), strict=True))


def attribute_dict(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """A map column value back to a dict (tests, analyses of in-memory rows)."""
    return dict(pairs)


__all__ = ["LOG_SCHEMA", "TRACE_SCHEMA", "AttrValue", "LogColumns", "SpanColumns", "attr_string"]
