"""Error events in andon_errors: derived from spans and logs, or received from Sentry SDKs.

`derive_errors` reads a time window of ``otel_traces`` (span events named ``exception``) and
``otel_logs`` (``SeverityNumber >= 17``) with SQL, fingerprints each error (`ingest.fingerprint`)
and stores the ones not stored yet. Every error has a deterministic ``ErrorId`` (same span event,
same id), so running it twice over the same window stores nothing new. An ERROR log written for
an exception already recorded on its span (same trace, span, type and message) is not counted
twice. Messages are redacted (`ingest.redaction`) before storage; the fingerprint is computed
first, from the original, so redaction cannot merge or split groups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.fingerprint import Frame, culprit, fingerprint, parse_stacktrace
from ingest.redaction import redact
from ingest.store import insert_new
from warehouse import Warehouse

TABLE = "andon_errors"
COLUMNS = (
    "Timestamp", "ErrorId", "Fingerprint", "Source", "ExceptionType", "ExceptionMessage",
    "Stacktrace", "Culprit", "ServiceName", "ServiceVersion", "Environment", "TraceId", "SpanId",
    "SessionId", "UserId", "Route", "Attributes",
)  # fmt: skip


@dataclass(frozen=True)
class ErrorEvent:
    """One occurrence of an error, with what it is linked to when known."""

    timestamp: datetime
    error_id: str
    source: str  # span_event | log | sentry
    exception_type: str
    message: str
    stacktrace: str = ""
    service: str = ""
    version: str = ""
    environment: str = ""
    trace_id: str = ""
    span_id: str = ""
    session_id: str = ""
    user_id: str = ""
    route: str = ""
    frames: tuple[Frame, ...] | None = None  # structured frames when the source had them
    grouping: tuple[str, ...] = ()  # explicit fingerprint parts (Sentry's "fingerprint")
    attributes: Mapping[str, str] = field(default_factory=dict)

    def row(self) -> tuple[Any, ...]:
        frames = list(self.frames) if self.frames is not None else parse_stacktrace(self.stacktrace)
        group = fingerprint(
            self.exception_type, self.message, self.stacktrace, frames=frames, extra=self.grouping
        )
        return (
            self.timestamp, self.error_id, group, self.source, self.exception_type,
            redact(self.message), redact(self.stacktrace), culprit(frames), self.service,
            self.version, self.environment, self.trace_id, self.span_id, self.session_id,
            self.user_id, self.route, dict(self.attributes),
        )  # fmt: skip


def error_id(*parts: Any) -> str:
    """A deterministic id from what identifies one occurrence."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def store_errors(wh: Warehouse, events: Sequence[ErrorEvent]) -> tuple[int, int]:
    """Store error events in one insert, skipping ErrorIds already stored; (stored, duplicates)."""
    # An occurrence never changes, so the ErrorId is both its key and its content hash.
    return insert_new(
        wh,
        TABLE,
        COLUMNS,
        [e.row() for e in events],
        key_columns=("ErrorId",),
        hash_column="ErrorId",
    )


# -- derivation from telemetry ------------------------------------------------------------------

_SPAN_ERRORS_SQL = """
SELECT
    ev_ts, TraceId, SpanId, idx, ServiceName,
    ResourceAttributes['service.version'],
    if(ResourceAttributes['deployment.environment.name'] != '',
       ResourceAttributes['deployment.environment.name'],
       ResourceAttributes['deployment.environment']),
    SpanAttributes['session.id'], SpanAttributes['enduser.id'],
    if(SpanAttributes['http.route'] != '', SpanAttributes['http.route'], SpanName),
    ev_attrs['exception.type'], ev_attrs['exception.message'], ev_attrs['exception.stacktrace']
FROM {traces}
ARRAY JOIN Events.Timestamp AS ev_ts, Events.Name AS ev_name, Events.Attributes AS ev_attrs,
    arrayEnumerate(Events.Name) AS idx
WHERE Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}
  AND ev_name = 'exception'
"""

_LOG_ERRORS_SQL = """
SELECT
    Timestamp, TraceId, SpanId, ServiceName, SeverityText, Body,
    ResourceAttributes['service.version'],
    if(ResourceAttributes['deployment.environment.name'] != '',
       ResourceAttributes['deployment.environment.name'],
       ResourceAttributes['deployment.environment']),
    if(LogAttributes['session.id'] != '', LogAttributes['session.id'],
       ResourceAttributes['session.id']),
    if(LogAttributes['enduser.id'] != '', LogAttributes['enduser.id'],
       ResourceAttributes['enduser.id']),
    LogAttributes['http.route'],
    LogAttributes['exception.type'], LogAttributes['exception.message'],
    LogAttributes['exception.stacktrace'],
    if(LogAttributes['code.function.name'] != '', LogAttributes['code.function.name'],
       LogAttributes['code.function']),
    if(LogAttributes['code.file.path'] != '', LogAttributes['code.file.path'],
       LogAttributes['code.filepath'])
FROM {logs}
WHERE Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}
  AND SeverityNumber >= 17
"""


def span_errors(wh: Warehouse, since: datetime, until: datetime) -> list[ErrorEvent]:
    """Exception events recorded on spans in [since, until) (by span start time)."""
    params = {"since": since, "until": until}
    events = []
    for (
        ts,
        trace,
        span,
        idx,
        service,
        version,
        env,
        session,
        user,
        route,
        etype,
        msg,
        stack,
    ) in wh.rows(_SPAN_ERRORS_SQL.replace("{traces}", wh.table("otel_traces")), params):
        events.append(
            ErrorEvent(
                timestamp=ts,
                error_id=error_id("span_event", trace, span, idx, ts.isoformat()),
                source="span_event",
                exception_type=etype,
                message=msg,
                stacktrace=stack,
                service=service,
                version=version,
                environment=env,
                trace_id=trace,
                span_id=span,
                session_id=session,
                user_id=user,
                route=route,
            )
        )
    return events


def log_errors(wh: Warehouse, since: datetime, until: datetime) -> list[ErrorEvent]:
    """ERROR-or-worse log records in [since, until)."""
    params = {"since": since, "until": until}
    events = []
    for row in wh.rows(_LOG_ERRORS_SQL.replace("{logs}", wh.table("otel_logs")), params):
        ts, trace, span, service, severity, body, version, env, session, user, route = row[:11]
        etype, emsg, stack, function, filepath = row[11:]
        frames = None
        if not stack and (function or filepath):
            frames = (Frame(filename=filepath, function=function),)
        events.append(
            ErrorEvent(
                timestamp=ts,
                error_id=error_id("log", trace, span, ts.isoformat(), service, body),
                source="log",
                exception_type=etype or f"log.{severity or 'ERROR'}",
                message=emsg or body,
                stacktrace=stack,
                service=service,
                version=version,
                environment=env,
                trace_id=trace,
                span_id=span,
                session_id=session,
                user_id=user,
                route=route,
                frames=frames,
                attributes={"severity": severity} if severity else {},
            )
        )
    return events


def derive_errors(warehouse: Warehouse, since: datetime, until: datetime) -> int:
    """Derive error events from spans and logs in [since, until); returns how many were new."""
    spans = span_errors(warehouse, since, until)
    seen = {(e.trace_id, e.span_id, e.exception_type, e.message) for e in spans if e.trace_id}
    logs = [
        e
        for e in log_errors(warehouse, since, until)
        if not (e.trace_id and (e.trace_id, e.span_id, e.exception_type, e.message) in seen)
    ]
    stored, _ = store_errors(warehouse, [*spans, *logs])
    return stored
