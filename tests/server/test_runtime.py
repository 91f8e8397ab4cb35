"""The in-process server: both ports answer, errors become JSON, services and the writer follow
the server's lifecycle, and stopping finishes what was accepted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from errors import ConfigError, NotFoundError
from ingest.writer import Backpressure
from server import app as server_app
from server.context import ServerContext
from server.runtime import bind_socket, start_server
from settings import Settings
from tests.ingest.test_otlp_http import GatedWarehouse, _spec_trace
from warehouse import Warehouse


def test_both_ports_answer_and_otlp_json_is_stored(
    settings: Settings, warehouse: Warehouse, shared_data: Path
) -> None:
    body = (shared_data / "otlp" / "hotrod-trace-otlp.json").read_bytes()
    with start_server(settings, warehouse, ingest_port=0, console_port=0) as running:
        assert running.ingest_url != running.console_url
        for url, role in ((running.ingest_url, "ingest"), (running.console_url, "console")):
            health = httpx.get(f"{url}/healthz")
            assert health.status_code == 200
            assert health.json()["status"] == "ok"
            assert health.json()["role"] == role
        response = httpx.post(
            f"{running.ingest_url}/v1/traces",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {}
    assert warehouse.scalar(f"SELECT count() FROM {warehouse.table('otel_traces')}") == 40


class Recorder:
    """A background service that records its lifecycle."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def start(self) -> None:
        self.events.append("start")

    def stop(self) -> None:
        self.events.append("stop")


@pytest.fixture
def extra_providers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A console route that raises andon errors, and a recording background service."""
    events: list[str] = []

    def failing_routes(ctx: ServerContext) -> list[BaseRoute]:
        async def missing(request: Request) -> Any:
            raise NotFoundError("no ticket t-42")

        async def busy(request: Request) -> Any:
            raise Backpressure("too busy", retry_after_s=3)

        return [Route("/api/missing", missing), Route("/api/busy", busy)]

    monkeypatch.setattr(
        server_app, "ROUTE_PROVIDERS_CONSOLE", [*server_app.ROUTE_PROVIDERS_CONSOLE, failing_routes]
    )
    monkeypatch.setattr(server_app, "BACKGROUND_SERVICES", [lambda ctx: Recorder(events)])
    yield events


def test_andon_errors_become_json_and_services_follow_the_server(
    settings: Settings, warehouse: Warehouse, extra_providers: list[str]
) -> None:
    running = start_server(settings, warehouse, ingest_port=0, console_port=0)
    try:
        assert extra_providers == ["start"]
        missing = httpx.get(f"{running.console_url}/api/missing")
        assert (missing.status_code, missing.json()) == (404, {"error": "no ticket t-42"})
        busy = httpx.get(f"{running.console_url}/api/busy")
        assert busy.status_code == 429
        assert busy.headers["retry-after"] == "3"
    finally:
        running.stop()
    assert extra_providers == ["start", "stop"]
    running.stop()  # idempotent
    assert extra_providers == ["start", "stop"]


def test_stop_waits_for_in_flight_requests_and_flushes(
    settings: Settings, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_app, "BACKGROUND_SERVICES", [])
    gated = GatedWarehouse(settings.warehouse)
    try:
        running = start_server(settings, gated, ingest_port=0, console_port=0)
        url = f"{running.ingest_url}/v1/traces"
        answers: list[int] = []
        sender = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    url, content=_spec_trace(), headers={"Content-Type": "application/json"}
                ).status_code
            )
        )
        sender.start()
        assert gated.inserting.wait(30)
        stopper = threading.Thread(target=running.stop)
        stopper.start()  # stop begins while the request's insert is still running
        gated.gate.set()
        stopper.join(60)
        sender.join(30)
        assert answers == [200]
        assert gated.scalar(f"SELECT count() FROM {gated.table('otel_traces')}") == 1
    finally:
        gated.close()


def test_a_busy_port_is_a_clear_error() -> None:
    taken = bind_socket("127.0.0.1", 0)
    taken.listen()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_socket("127.0.0.1", port)
    finally:
        taken.close()
