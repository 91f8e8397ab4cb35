"""Replay planned spans and logs through the real OpenTelemetry SDK.

One `TracerProvider` / `LoggerProvider` per resource (a service at a version, a client app on a
device), all feeding the SDK's own in-memory exporters. Ids come from a seeded `IdGenerator` and
every span gets explicit start and end times, so the SDK's output is fully determined by the plan:
no wall clock, no random ids.

    emitter = SdkEmitter(resources)
    emitter.emit(spans, logs)            # planned records from `simulator.generator`
    emitter.finished_spans()             # ReadableSpan, as any SDK exporter receives them
    emitter.finished_logs()              # ReadableLogRecord (LogData) with trace context
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from simulator.records import (
    KIND_SERVER,
    SCOPES,
    STATUS_ERROR,
    LogRecordSpec,
    ResourceTable,
    SpanRecord,
)

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


class PlannedIdGenerator(IdGenerator):
    """Hands the SDK the ids the seeded plan chose for the next span (deterministic output)."""

    def __init__(self) -> None:
        self.next_trace_id = 0
        self.next_span_id = 0

    def generate_span_id(self) -> int:
        return self.next_span_id

    def generate_trace_id(self) -> int:
        return self.next_trace_id


class SdkEmitter:
    """Turns planned records into SDK spans and log records (see the module docstring)."""

    def __init__(self, resources: ResourceTable) -> None:
        self.resources = resources
        self.span_exporter = InMemorySpanExporter()
        self.log_exporter = InMemoryLogRecordExporter()
        self._ids = PlannedIdGenerator()
        self._tracers: dict[tuple[int, int], trace.Tracer] = {}
        self._loggers: dict[tuple[int, int], Any] = {}
        self._providers: list[TracerProvider] = []
        self._log_providers: list[LoggerProvider] = []
        self._tracer_providers: dict[int, TracerProvider] = {}
        self._logger_providers: dict[int, LoggerProvider] = {}

    def _resource(self, index: int) -> Resource:
        # Resource(...) rather than Resource.create(...): no environment detectors, so the output
        # never depends on OTEL_RESOURCE_ATTRIBUTES or the host.
        return Resource(self.resources.items[index])

    def _tracer(self, resource: int, scope: int) -> trace.Tracer:
        found = self._tracers.get((resource, scope))
        if found is None:
            provider = self._tracer_providers.get(resource)
            if provider is None:
                provider = TracerProvider(
                    resource=self._resource(resource),
                    id_generator=self._ids,
                    shutdown_on_exit=False,
                )
                provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
                self._tracer_providers[resource] = provider
            name, version = SCOPES[scope]
            found = provider.get_tracer(name, version)
            self._tracers[(resource, scope)] = found
        return found

    def _logger(self, resource: int, scope: int) -> Any:
        found = self._loggers.get((resource, scope))
        if found is None:
            provider = self._logger_providers.get(resource)
            if provider is None:
                provider = LoggerProvider(resource=self._resource(resource), shutdown_on_exit=False)
                provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
                self._logger_providers[resource] = provider
            name, version = SCOPES[scope]
            found = provider.get_logger(name, version)
            self._loggers[(resource, scope)] = found
        return found

    def emit(self, spans: Sequence[SpanRecord], logs: Sequence[LogRecordSpec]) -> None:
        """Start and end every span (parents first) and emit every log, with the planned values."""
        for record in spans:
            tracer = self._tracer(record.resource, record.scope)
            if record.parent_id:
                parent = SpanContext(
                    record.trace_id,
                    record.parent_id,
                    # a server span's parent is the caller's client span, in another process
                    is_remote=record.kind == KIND_SERVER,
                    trace_flags=_SAMPLED,
                )
                context = trace.set_span_in_context(NonRecordingSpan(parent), Context())
            else:
                context = Context()
                self._ids.next_trace_id = record.trace_id
            self._ids.next_span_id = record.span_id
            span = tracer.start_span(
                record.name,
                context=context,
                kind=SpanKind(record.kind),
                attributes=record.attributes,
                start_time=record.start_ns,
            )
            for event in record.events:
                span.add_event(event.name, event.attributes, timestamp=event.time_ns)
            if record.status == STATUS_ERROR:
                span.set_status(Status(StatusCode.ERROR, record.status_message or None))
            span.end(end_time=record.end_ns)
        for log in logs:
            logger = self._logger(log.resource, log.scope)
            span_context = SpanContext(log.trace_id, log.span_id, False, _SAMPLED)
            logger.emit(
                timestamp=log.time_ns,
                observed_timestamp=log.time_ns,
                context=trace.set_span_in_context(NonRecordingSpan(span_context), Context()),
                severity_number=SeverityNumber(log.severity_number),
                severity_text=log.severity_text,
                body=log.body,
                attributes=log.attributes,
            )

    def finished_spans(self) -> list[ReadableSpan]:
        """Every span the SDK exported so far, in export order."""
        return list(self.span_exporter.get_finished_spans())

    def finished_logs(self) -> list[Any]:
        """Every log record the SDK exported so far (ReadableLogRecord / LogData)."""
        return list(self.log_exporter.get_finished_logs())

    def clear(self) -> None:
        """Forget what was exported (the streaming writers call this between chunks)."""
        self.span_exporter.clear()
        self.log_exporter.clear()
