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


class _FlatMaps:
    """A Map(String, String) column built from flat keys/values and offsets (fast to Arrow)."""

    __slots__ = ("keys", "offsets", "values")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.values: list[str] = []
        self.offsets: list[int] = [0]

    def add(self, attributes: Any) -> None:
        self.keys.extend(attributes)
        # most values are already strings: skip the conversion call for them
        self.values.extend([v if type(v) is str else attr_string(v) for v in attributes.values()])
        self.offsets.append(len(self.keys))

    def array(self) -> pa.Array:
        return pa.MapArray.from_arrays(
            pa.array(self.offsets, pa.int32()),
            pa.array(self.keys, pa.string()),
            pa.array(self.values, pa.string()),
        )


def _list_array(offsets: list[int], values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


class SpanColumns:
    """Column-wise accumulation of otel_traces rows (cheap to turn into one Arrow table).

    Resources are converted once each and referenced by index; attribute maps and events are
    kept as flat arrays with offsets, which is what Arrow stores anyway.
    """

    def __init__(self) -> None:
        self.names = TRACE_SCHEMA.names
        self._resources = ResourceTable()
        self._planned: dict[tuple[int, int], int] = {}  # (id(table), index) -> our index
        self._resource: list[int] = []
        self._start: list[int] = []
        self._trace: list[str] = []
        self._span: list[str] = []
        self._parent: list[str] = []
        self._name: list[str] = []
        self._kind: list[str] = []
        self._scope_name: list[str] = []
        self._scope_version: list[str] = []
        self._attributes = _FlatMaps()
        self._duration: list[int] = []
        self._status: list[str] = []
        self._message: list[str] = []
        self._event_offsets: list[int] = [0]
        self._event_time: list[int] = []
        self._event_name: list[str] = []
        self._event_attributes = _FlatMaps()

    def __len__(self) -> int:
        return len(self._span)

    def _append(
        self,
        start: int,
        end: int,
        trace_id: int,
        span_id: int,
        parent_id: int,
        name: str,
        kind: int,
        resource: int,
        scope: tuple[str, str],
        attributes: Any,
        status: int,
        message: str,
        events: list[tuple[int, str, Any]],
    ) -> None:
        self._resource.append(resource)
        self._start.append(start)
        self._trace.append(f"{trace_id:032x}")
        self._span.append(f"{span_id:016x}")
        self._parent.append(f"{parent_id:016x}" if parent_id else "")
        self._name.append(name)
        self._kind.append(KIND_NAMES.get(kind, "Unspecified"))
        self._scope_name.append(scope[0])
        self._scope_version.append(scope[1])
        self._attributes.add(attributes)
        self._duration.append(end - start)
        self._status.append(STATUS_NAMES[status])
        self._message.append(message)
        for time_ns, event_name, event_attributes in events:
            self._event_time.append(time_ns)
            self._event_name.append(event_name)
            self._event_attributes.add(event_attributes)
        self._event_offsets.append(len(self._event_name))

    def add_record(self, record: SpanRecord, resources: ResourceTable) -> None:
        """A planned span (the bulk path)."""
        key = (id(resources), record.resource)
        resource = self._planned.get(key)
        if resource is None:
            resource = self._resources.add(resources.items[record.resource])
            self._planned[key] = resource
        self._append(
            record.start_ns,
            record.end_ns,
            record.trace_id,
            record.span_id,
            record.parent_id,
            record.name,
            record.kind,
            resource,
            SCOPES[record.scope],
            record.attributes,
            record.status,
            record.status_message,
            [(e.time_ns, e.name, e.attributes) for e in record.events] if record.events else [],
        )

    def add_sdk(self, span: Any) -> None:
        """A span as the OpenTelemetry SDK finished it (`ReadableSpan`)."""
        context = span.get_span_context()
        scope = span.instrumentation_scope
        resource = self._resources.add(
            {k: attr_string(v) for k, v in span.resource.attributes.items()}
        )
        self._append(
            span.start_time,
            span.end_time,
            context.trace_id,
            context.span_id,
            span.parent.span_id if span.parent is not None else 0,
            span.name,
            span.kind.value,
            resource,
            (scope.name, scope.version or "") if scope else ("", ""),
            span.attributes or {},
            span.status.status_code.value,
            span.status.description or "",
            [(e.timestamp, e.name, e.attributes or {}) for e in span.events],
        )

    def table(self) -> pa.Table:
        """The accumulated rows as an Arrow table matching otel_traces' columns."""
        maps = _FlatMaps()
        services = []
        for attributes in self._resources.items:
            maps.add(attributes)
            services.append(str(attributes.get("service.name", "")))
        index = pa.array(self._resource, pa.int32())
        n = len(self._span)
        empty = pa.array([0] * (n + 1), pa.int32())
        no_strings = pa.ListArray.from_arrays(empty, pa.array([], pa.string()))
        no_maps = pa.ListArray.from_arrays(empty, _FlatMaps().array())
        columns = [
            pa.array(self._start, pa.int64()).cast(_TS),
            pa.array(self._trace, pa.string()),
            pa.array(self._span, pa.string()),
            pa.array(self._parent, pa.string()),
            pa.array([""] * n, pa.string()),
            pa.array(self._name, pa.string()),
            pa.array(self._kind, pa.string()),
            pa.array(services, pa.string()).take(index),
            maps.array().take(index),
            pa.array(self._scope_name, pa.string()),
            pa.array(self._scope_version, pa.string()),
            self._attributes.array(),
            pa.array(self._duration, pa.uint64()),
            pa.array(self._status, pa.string()),
            pa.array(self._message, pa.string()),
            _list_array(self._event_offsets, pa.array(self._event_time, pa.int64()).cast(_TS)),
            _list_array(self._event_offsets, pa.array(self._event_name, pa.string())),
            _list_array(self._event_offsets, self._event_attributes.array()),
            no_strings,
            no_strings,
            no_strings,
            no_maps,
        ]
        return pa.Table.from_arrays(columns, schema=TRACE_SCHEMA)

    def rows(self) -> list[tuple[Any, ...]]:
        """The accumulated rows as tuples, timestamps as ns ints (for comparisons in tests)."""
        table = self.table()
        ts = pa.int64()
        table = table.set_column(0, "Timestamp", table.column(0).cast(ts))
        table = table.set_column(15, "Events.Timestamp", table.column(15).cast(pa.list_(ts)))
        data = table.to_pydict()
        return list(zip(*(data[n] for n in self.names), strict=True))


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
