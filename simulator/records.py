"""Planned telemetry: spans and log records decided by the generator, before any exporter sees them.

The generator decides every id, timestamp, attribute and status up front (pure, seeded); the SDK
path (`simulator.sdk`) replays these records through the real OpenTelemetry SDK, and the bulk
path (`simulator.rows`) turns them straight into warehouse rows. Both paths therefore carry the
same data, which a test checks row for row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

AttrValue = str | int | float | bool

# opentelemetry.trace.SpanKind values, kept as ints so this module stays free of the SDK.
KIND_INTERNAL = 0
KIND_SERVER = 1
KIND_CLIENT = 2

# opentelemetry.trace.StatusCode values.
STATUS_UNSET = 0
STATUS_OK = 1
STATUS_ERROR = 2


@dataclass(slots=True)
class EventRecord:
    """A span event (``exception`` with exception.type/message/stacktrace)."""

    time_ns: int
    name: str
    attributes: dict[str, AttrValue]


@dataclass(slots=True)
class SpanRecord:
    """One span as it will be exported: ids as ints, times in ns since the epoch (UTC)."""

    trace_id: int
    span_id: int
    parent_id: int  # 0 for a root span
    name: str
    kind: int
    resource: int  # index into `ResourceTable`
    scope: int  # index into `SCOPES`
    start_ns: int
    end_ns: int
    attributes: dict[str, AttrValue]
    status: int = STATUS_UNSET
    status_message: str = ""
    events: list[EventRecord] = field(default_factory=list)


@dataclass(slots=True)
class LogRecordSpec:
    """An ERROR log record emitted with the trace context of the span that failed."""

    time_ns: int
    trace_id: int
    span_id: int
    severity_number: int
    severity_text: str
    body: str
    resource: int
    scope: int
    attributes: dict[str, AttrValue]


class ResourceTable:
    """Distinct resources (service + version + device ...), each stored once and referenced by index."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []
        self._index: dict[tuple[tuple[str, str], ...], int] = {}

    def add(self, attributes: dict[str, str]) -> int:
        """Index of this resource, registering it on first sight."""
        key = tuple(attributes.items())
        found = self._index.get(key)
        if found is None:
            found = len(self.items)
            self.items.append(dict(attributes))
            self._index[key] = found
        return found


# Instrumentation scopes, as the instrumentations of each platform/language name themselves.
SCOPES: list[tuple[str, str]] = [
    ("@opentelemetry/instrumentation-fetch", "0.54.2"),  # 0 web
    ("io.opentelemetry.swift.urlsession", "1.12.1"),  # 1 ios
    ("io.opentelemetry.android.okhttp", "0.9.0"),  # 2 android
    ("@opentelemetry/instrumentation-http", "0.54.2"),  # 3 node http
    ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0"),  # 4 go http
    ("io.opentelemetry.spring-webmvc-6.0", "2.10.0"),  # 5 java http
    ("opentelemetry.instrumentation.fastapi", "0.49b2"),  # 6 python http
    ("@opentelemetry/instrumentation-pg", "0.47.0"),  # 7 node db
    ("go.opentelemetry.io/contrib/instrumentation/database/sql", "0.57.0"),  # 8 go db
    ("io.opentelemetry.jdbc", "2.10.0"),  # 9 java db
    ("opentelemetry.instrumentation.psycopg", "0.49b2"),  # 10 python db
    ("@opentelemetry/winston-transport", "0.7.0"),  # 11 node logs
    ("go.opentelemetry.io/contrib/bridges/otelslog", "0.7.0"),  # 12 go logs
    ("io.opentelemetry.logback-appender-1.0", "2.10.0"),  # 13 java logs
    ("opentelemetry.sdk._logs", "1.28.0"),  # 14 python logging handler
]
CLIENT_SCOPE = {"web": 0, "ios": 1, "android": 2}
HTTP_SCOPE = {"node": 3, "go": 4, "java": 5, "python": 6}
DB_SCOPE = {"node": 7, "go": 8, "java": 9, "python": 10}
LOG_SCOPE = {"node": 11, "go": 12, "java": 13, "python": 14}
