"""Errors derived from spans and logs, and deployments inferred from versions, end to end:
the real OpenTelemetry SDK exports to andon's OTLP receiver, then the collectors run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from ingest import changes
from ingest.deploy_inference import infer_deployments
from ingest.errors import derive_errors
from server.runtime import start_server
from settings import Settings
from warehouse import Warehouse

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def _resource(service: str, version: str) -> Resource:
    return Resource.create(
        {"service.name": service, "service.version": version, "deployment.environment.name": "prod"}
    )


def _charge(order_id: int) -> None:
    raise ValueError(f"card declined for order {order_id}")


def _emit(endpoint: str) -> None:
    """Checkout 1.0 then 1.1 (fails twice the same way); a log-only error from 'billing'."""
    for version, start, orders in (("1.0", T0, [1]), ("1.1", T0 + timedelta(hours=1), [2, 3])):
        provider = TracerProvider(resource=_resource("checkout", version))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))  # fmt: skip
        tracer = provider.get_tracer("test")
        for i, order in enumerate(orders):
            at = start + timedelta(minutes=i)
            span = tracer.start_span(
                "POST /checkout",
                start_time=_ns(at),
                attributes={
                    "http.route": "/checkout",
                    "session.id": f"s-{order}",
                    "enduser.id": f"u-{order}",
                },
            )
            if version == "1.1":
                try:
                    _charge(order * 1000 + 7)
                except ValueError as exc:
                    span.record_exception(exc, timestamp=_ns(at + timedelta(seconds=1)))
                    span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=_ns(at + timedelta(seconds=2)))
        provider.shutdown()

    logs = LoggerProvider(resource=_resource("billing", "7.2"))
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs")))  # fmt: skip
    logger = logging.getLogger("billing-test")
    handler = LoggingHandler(logger_provider=logs)
    logger.addHandler(handler)
    logger.propagate = False
    invoices: dict[str, int] = {}
    try:
        for invoice in (17, 18):
            try:
                invoices[f"invoice-{invoice}"] += 1
            except KeyError:
                logger.exception("invoice lookup failed for %s", invoice)
        logger.warning("a warning is not an error")
    finally:
        logger.removeHandler(handler)
        logs.shutdown()


def test_errors_and_deploys_from_otel_sdk_telemetry(
    settings: Settings, warehouse: Warehouse
) -> None:
    with start_server(settings, warehouse, ingest_port=0, console_port=0) as running:
        _emit(running.ingest_url)
    now = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    since = T0.replace(tzinfo=None) - timedelta(days=1)

    assert derive_errors(warehouse, since, now) == 4
    assert derive_errors(warehouse, since, now) == 0  # idempotent
    rows = warehouse.rows(
        f"SELECT Source, ServiceName, ServiceVersion, Environment, ExceptionType, SessionId, "
        f"UserId, Route, Fingerprint, Culprit, length(TraceId) "
        f"FROM {warehouse.table('andon_errors')} ORDER BY ServiceName, Timestamp"
    )
    billing, checkout = rows[:2], rows[2:]
    assert [r[:8] for r in checkout] == [
        ("span_event", "checkout", "1.1", "prod", "ValueError", "s-2", "u-2", "/checkout"),
        ("span_event", "checkout", "1.1", "prod", "ValueError", "s-3", "u-3", "/checkout"),
    ]
    assert checkout[0][8] == checkout[1][8]  # same bug, different order ids
    assert checkout[0][9].endswith("in _charge")
    assert checkout[0][10] == 32
    assert {r[0] for r in billing} == {"log"} and billing[0][4] == "KeyError"
    assert billing[0][8] == billing[1][8] != checkout[0][8]

    # No declared deployments: checkout 1.1 is inferred (1.0 was already running).
    assert infer_deployments(warehouse, since, now) == 1
    assert infer_deployments(warehouse, since, now) == 0
    deploys = warehouse.rows(
        f"SELECT Service, Version, Environment, StartedAt, Status, Source FROM {warehouse.table('andon_deployments')}"
    )
    assert deploys == [
        (
            "checkout",
            "1.1",
            "prod",
            T0.replace(tzinfo=None) + timedelta(hours=1),
            "inferred",
            "inferred",
        )
    ]


def test_declared_deployments_switch_inference_off(
    settings: Settings, warehouse: Warehouse
) -> None:
    with start_server(settings, warehouse, ingest_port=0, console_port=0) as running:
        _emit(running.ingest_url)
    declared = changes.Deployment(id="d-1", service="checkout", version="1.1", started_at=T0.replace(tzinfo=None))  # fmt: skip
    changes.store(warehouse, [declared])
    since, until = datetime(2026, 1, 1), datetime(2027, 1, 1)
    assert infer_deployments(warehouse, since, until) == 0


def test_real_hotrod_trace_errors_group_as_one_bug(
    settings: Settings, warehouse: Warehouse, shared_data: Path
) -> None:
    """Jaeger's HotROD trace (third-party OTLP JSON): three 'redis timeout' exception events."""
    body = (shared_data / "otlp" / "hotrod-trace-otlp.json").read_bytes()
    with start_server(settings, warehouse, ingest_port=0, console_port=0) as running:
        response = httpx.post(f"{running.ingest_url}/v1/traces", content=body, headers={"Content-Type": "application/json"})  # fmt: skip
        assert response.status_code == 200
    assert derive_errors(warehouse, datetime(2020, 1, 1), datetime(2030, 1, 1)) == 3
    rows = warehouse.rows(
        f"SELECT ExceptionType, ExceptionMessage, ServiceName, Route, uniqExact(Fingerprint) OVER () "
        f"FROM {warehouse.table('andon_errors')}"
    )
    assert {r[:2] for r in rows} == {("*errors.errorString", "redis timeout")}
    assert rows[0][4] == 1 and all(r[3] for r in rows)
