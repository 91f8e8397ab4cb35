"""The OTLP/HTTP receiver, driven by the real OpenTelemetry SDK exporters and raw HTTP."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from pydantic import SecretStr

from server import app as server_app
from server.runtime import RunningServer, start_server
from settings import Settings
from tests.ingest.test_otlp_decode import SPEC_LOGS, SPEC_TRACE
from warehouse import Warehouse, open_warehouse

JSON = {"Content-Type": "application/json"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(autouse=True)
def _receiver_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background services (the scheduler) here: these tests are about the receiver."""
    monkeypatch.setattr(server_app, "BACKGROUND_SERVICES", [])


@pytest.fixture
def server(settings: Settings, warehouse: Warehouse) -> Iterator[RunningServer]:
    with start_server(settings, warehouse, ingest_port=0, console_port=0) as running:
        yield running


def _count(wh: Warehouse, table: str = "otel_traces") -> int:
    return int(wh.scalar(f"SELECT count() FROM {wh.table(table)}"))


def _spec_trace(span_id: str = "EEE19B7EC3C1B174") -> bytes:
    data = json.loads(json.dumps(SPEC_TRACE))
    data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = span_id
    return json.dumps(data).encode()


# -- the real SDK ------------------------------------------------------------------------


def _kind_name(kind: SpanKind) -> str:
    return {
        SpanKind.INTERNAL: "Internal",
        SpanKind.SERVER: "Server",
        SpanKind.CLIENT: "Client",
        SpanKind.PRODUCER: "Producer",
        SpanKind.CONSUMER: "Consumer",
    }[kind]


def _make_spans() -> tuple[ReadableSpan, ...]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "checkout", "service.version": "2.4.1"})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.checkout", "1.0.0")
    with tracer.start_as_current_span(
        "POST /checkout",
        kind=SpanKind.SERVER,
        attributes={
            "http.route": "/checkout",
            "http.response.status_code": 502,
            "session.id": "s-1",
            "enduser.id": "u-9",
            "app.cart.value": 12.5,
            "feature.flags": ["new-address-form", "fast-pay"],
            "retry": True,
        },
    ) as root:
        with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT) as child:
            child.set_attribute("db.system.name", "postgresql")
        root.add_event("exception", {"exception.type": "TimeoutError", "exception.message": "t"})
        root.set_status(Status(StatusCode.ERROR, "upstream timed out"))
    with tracer.start_as_current_span(
        "process order", kind=SpanKind.CONSUMER, links=[Link(root.get_span_context(), {"n": 1})]
    ) as consumer:
        consumer.set_status(Status(StatusCode.OK))
    provider.shutdown()
    return memory.get_finished_spans()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_spans_arrive_intact(
    server: RunningServer, warehouse: Warehouse, compression: Compression
) -> None:
    spans = _make_spans()
    exporter = OTLPSpanExporter(endpoint=f"{server.ingest_url}/v1/traces", compression=compression)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()

    rows = warehouse.rows(
        "SELECT SpanId, TraceId, ParentSpanId, SpanName, SpanKind, ServiceName, ScopeName, "
        "ScopeVersion, SpanAttributes, toUnixTimestamp64Nano(Timestamp), Duration, StatusCode, "
        "StatusMessage, Events.Name, Events.Attributes, arrayMap(t -> "
        "toUnixTimestamp64Nano(t), Events.Timestamp), Links.SpanId, Links.Attributes, "
        f"ResourceAttributes FROM {warehouse.table('otel_traces')}"
    )
    stored = {row[0]: row for row in rows}
    assert len(stored) == len(spans) == 3
    for span in spans:
        ctx = span.get_span_context()
        assert ctx is not None
        row = stored[f"{ctx.span_id:016x}"]
        parent = f"{span.parent.span_id:016x}" if span.parent else ""
        assert row[1:8] == (
            f"{ctx.trace_id:032x}",
            parent,
            span.name,
            _kind_name(span.kind),
            "checkout",
            "tests.checkout",
            "1.0.0",
        )
        assert span.start_time is not None and span.end_time is not None
        assert row[9] == span.start_time
        assert row[10] == span.end_time - span.start_time
        status = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}
        assert row[11] == status[span.status.status_code]
        assert row[12] == (span.status.description or "")
        assert row[13] == [event.name for event in span.events]
        assert row[15] == [event.timestamp for event in span.events]
        assert row[16] == [f"{link.context.span_id:016x}" for link in span.links]
        assert row[18]["service.version"] == "2.4.1"
    root = stored[next(k for k, r in stored.items() if r[3] == "POST /checkout")]
    assert root[8] == {
        "http.route": "/checkout",
        "http.response.status_code": "502",
        "session.id": "s-1",
        "enduser.id": "u-9",
        "app.cart.value": "12.5",
        "feature.flags": '["new-address-form","fast-pay"]',
        "retry": "true",
    }
    assert root[14] == [{"exception.type": "TimeoutError", "exception.message": "t"}]
    consumer = next(r for r in rows if r[3] == "process order")
    assert consumer[17] == [{"n": "1"}]


def test_sdk_logs_arrive_intact(server: RunningServer, warehouse: Warehouse) -> None:
    exporter = OTLPLogExporter(endpoint=f"{server.ingest_url}/v1/logs")
    results: list[LogRecordExportResult] = []

    class Recording(SimpleLogRecordProcessor):
        def on_emit(self, log_record: Any) -> None:
            results.append(exporter.export([log_record]))

    provider = LoggerProvider(resource=Resource.create({"service.name": "payments"}))
    provider.add_log_record_processor(Recording(exporter))
    logger = provider.get_logger("tests.payments", "0.3")
    logger.emit(
        timestamp=1_700_000_000_000_000_123,
        severity_text="ERROR",
        severity_number=SeverityNumber.ERROR,
        body="card declined",
        attributes={"exception.type": "CardError", "attempt": 2},
        event_name="payment.failed",
    )
    logger.emit(body={"structured": True, "n": [1, 2]}, severity_number=SeverityNumber.INFO)
    provider.shutdown()
    assert results == [LogRecordExportResult.SUCCESS, LogRecordExportResult.SUCCESS]
    rows = warehouse.rows(
        "SELECT toUnixTimestamp64Nano(Timestamp), SeverityText, SeverityNumber, ServiceName, "
        "Body, LogAttributes, ScopeName, ScopeVersion, EventName "
        f"FROM {warehouse.table('otel_logs')} ORDER BY SeverityNumber DESC"
    )
    assert rows[0] == (
        1_700_000_000_000_000_123,
        "ERROR",
        17,
        "payments",
        "card declined",
        {"exception.type": "CardError", "attempt": "2"},
        "tests.payments",
        "0.3",
        "payment.failed",
    )
    assert rows[1][4] == '{"n":[1,2],"structured":true}'
    assert rows[1][0] > 0  # no event time: the observed time is used


# -- OTLP/JSON from the specification and from a real app ----------------------------


def test_spec_examples_are_stored(server: RunningServer, warehouse: Warehouse) -> None:
    traces = httpx.post(f"{server.ingest_url}/v1/traces", json=SPEC_TRACE)
    logs = httpx.post(f"{server.ingest_url}/v1/logs", json=SPEC_LOGS)
    assert (traces.status_code, traces.json()) == (200, {})
    assert (logs.status_code, logs.json()) == (200, {})
    assert traces.headers["content-type"] == "application/json"
    assert warehouse.rows(
        f"SELECT TraceId, SpanName, SpanKind FROM {warehouse.table('otel_traces')}"
    ) == [("5b8efff798038103d269b633813fc60c", "I'm a server span", "Server")]
    assert warehouse.scalar(f"SELECT Body FROM {warehouse.table('otel_logs')}") == (
        "Example log record"
    )


def test_real_hotrod_trace_is_stored_whole(
    server: RunningServer, warehouse: Warehouse, shared_data: Path
) -> None:
    body = (shared_data / "otlp" / "hotrod-trace-otlp.json").read_bytes()
    data = json.loads(body)
    span_ids = {
        span["spanId"]
        for rs in data["resourceSpans"]
        for scope in rs["scopeSpans"]
        for span in scope["spans"]
    }
    response = httpx.post(
        f"{server.ingest_url}/v1/traces",
        content=gzip.compress(body),
        headers={**JSON, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    stored = {r[0] for r in warehouse.rows(f"SELECT SpanId FROM {warehouse.table('otel_traces')}")}
    assert stored == span_ids


# -- responses in the request's encoding, partial success --------------------------------


def test_partial_success_in_json(server: RunningServer, warehouse: Warehouse) -> None:
    data = json.loads(_spec_trace())
    spans = data["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "spanId": "zz"})
    response = httpx.post(f"{server.ingest_url}/v1/traces", json=data)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "spans[1]: spanId is not hex" in partial["errorMessage"]
    assert _count(warehouse) == 1


def test_partial_success_in_protobuf(server: RunningServer, warehouse: Warehouse) -> None:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    scope.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="ok")
    scope.spans.add(trace_id=b"\x01" * 16, span_id=b"", name="no span id")
    response = httpx.post(
        f"{server.ingest_url}/v1/traces", content=request.SerializeToString(), headers=PROTOBUF
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(response.content)
    assert parsed.partial_success.rejected_spans == 1
    assert "spanId must be 8 bytes, got 0" in parsed.partial_success.error_message
    assert _count(warehouse) == 1


# -- bad input: its status, and nothing valid lost ---------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"\xff\xfe garbage", PROTOBUF, 400, "cannot decode the protobuf traces request"),
        (b"{nope", JSON, 400, "invalid JSON in the traces request at line 1 column 2"),
        (b"not gzip at all", {**JSON, "Content-Encoding": "gzip"}, 400, "cannot decompress"),
        (gzip.compress(b"{}")[:-6], {**JSON, "Content-Encoding": "gzip"}, 400, "truncated"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "unsupported Content-Type 'text/plain'"),
        (b"{}", {**JSON, "Content-Encoding": "br"}, 415, "unsupported Content-Encoding 'br'"),
    ],
)
def test_bad_requests_get_their_status_and_valid_data_survives(
    server: RunningServer,
    warehouse: Warehouse,
    body: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    url = f"{server.ingest_url}/v1/traces"
    assert httpx.post(url, content=_spec_trace("0000000000000001"), headers=JSON).is_success
    response = httpx.post(url, content=body, headers=headers)
    assert response.status_code == status
    if headers["Content-Type"] == PROTOBUF["Content-Type"]:
        assert message in status_pb2.Status.FromString(response.content).message
    else:
        assert message in response.json()["message"]
        assert response.json()["error"] == response.json()["message"]
    assert httpx.post(url, content=_spec_trace("0000000000000002"), headers=JSON).is_success
    assert _count(warehouse) == 2


def test_size_limits_on_the_wire_and_after_decompression(
    settings: Settings, warehouse: Warehouse
) -> None:
    limited = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"max_body_bytes": 64 * 1024})}
    )
    with start_server(limited, warehouse, ingest_port=0, console_port=0) as running:
        url = f"{running.ingest_url}/v1/traces"
        declared = httpx.post(url, content=b" " * (100 * 1024), headers=JSON)
        assert declared.status_code == 413
        assert "over the 65,536 limit" in declared.json()["message"]

        def chunks() -> Iterator[bytes]:
            for _ in range(100):
                yield b" " * 1024

        streamed = httpx.post(url, content=chunks(), headers=JSON)  # chunked: no length
        assert streamed.status_code == 413

        bomb = gzip.compress(b" " * (50 * 1024 * 1024), 9)  # ~50 KB that inflates to 50 MB
        assert len(bomb) < 64 * 1024
        inflated = httpx.post(url, content=bomb, headers={**JSON, "Content-Encoding": "gzip"})
        assert inflated.status_code == 413
        assert "once decompressed" in inflated.json()["message"]

        assert httpx.post(url, content=_spec_trace(), headers=JSON).status_code == 200
    assert _count(warehouse) == 1


def test_token_is_required_when_configured(settings: Settings, warehouse: Warehouse) -> None:
    guarded = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"token": SecretStr("s3cret")})}
    )
    with start_server(guarded, warehouse, ingest_port=0, console_port=0) as running:
        url = f"{running.ingest_url}/v1/traces"
        missing = httpx.post(url, content=_spec_trace(), headers=JSON)
        wrong = httpx.post(
            url, content=_spec_trace(), headers={**JSON, "Authorization": "Bearer x"}
        )
        assert (missing.status_code, wrong.status_code) == (401, 401)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert "missing bearer token" in missing.json()["message"]
        exporter = OTLPSpanExporter(endpoint=url, headers={"Authorization": "Bearer s3cret"})
        assert exporter.export(_make_spans()) == SpanExportResult.SUCCESS
    assert _count(warehouse) == 3


class GatedWarehouse(Warehouse):
    """The real warehouse, except that inserts wait until the test opens the gate."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.gate = threading.Event()
        self.inserting = threading.Event()

    def _hold(self) -> None:
        self.inserting.set()
        self.gate.wait(30)

    def insert_columns(self, *args: Any, **kwargs: Any) -> int:
        self._hold()
        return super().insert_columns(*args, **kwargs)

    def insert_native(self, *args: Any, **kwargs: Any) -> int:
        self._hold()
        return super().insert_native(*args, **kwargs)


def test_full_queue_gets_429_with_retry_after(settings: Settings, warehouse: Warehouse) -> None:
    small = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"queue_max_rows": 1})}
    )
    gated = GatedWarehouse(settings.warehouse)
    try:
        with start_server(small, gated, ingest_port=0, console_port=0) as running:
            url = f"{running.ingest_url}/v1/traces"
            first: list[httpx.Response] = []
            sender = threading.Thread(
                target=lambda: first.append(
                    httpx.post(url, content=_spec_trace("00000000000000a1"), headers=JSON)
                )
            )
            sender.start()
            assert gated.inserting.wait(30)  # the first request's row is being inserted
            refused = httpx.post(url, content=_spec_trace("00000000000000a2"), headers=JSON)
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            assert "write queue full" in refused.json()["message"]
            gated.gate.set()
            sender.join(30)
            assert first[0].status_code == 200  # acknowledged only now, once committed
            retried = httpx.post(url, content=_spec_trace("00000000000000a2"), headers=JSON)
            assert retried.status_code == 200
    finally:
        gated.close()
    assert _count(warehouse) == 2


def test_failing_warehouse_gets_503_with_retry_after(fresh_settings: Settings) -> None:
    wh = open_warehouse(fresh_settings.warehouse)  # its own database: this test breaks it
    try:
        with start_server(fresh_settings, wh, ingest_port=0, console_port=0) as running:
            wh.command(f"DROP TABLE {wh.table('otel_logs')}")
            response = httpx.post(f"{running.ingest_url}/v1/logs", json=SPEC_LOGS)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            assert "warehouse" in response.json()["message"]
            # Traces still flow: one table's failure does not block the other.
            traces = httpx.post(f"{running.ingest_url}/v1/traces", json=SPEC_TRACE)
            assert traces.status_code == 200
    finally:
        wh.close()


def test_stopping_server_answers_503(server: RunningServer) -> None:
    server.writer.stop()
    response = httpx.post(f"{server.ingest_url}/v1/traces", json=SPEC_TRACE)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert httpx.get(f"{server.ingest_url}/healthz").status_code == 503
