"""The in-process server: both ports answer, OTLP data lands, stop flushes."""

from __future__ import annotations

from pathlib import Path

import httpx

from server.runtime import start_server
from settings import Settings
from warehouse import Warehouse


def test_both_ports_answer_and_otlp_json_is_stored(
    settings: Settings, warehouse: Warehouse, shared_data: Path
) -> None:
    body = (shared_data / "otlp" / "hotrod-trace-otlp.json").read_bytes()
    with start_server(settings, warehouse, ingest_port=0, console_port=0) as running:
        for url in (running.ingest_url, running.console_url):
            health = httpx.get(f"{url}/healthz")
            assert health.status_code == 200
            assert health.json()["status"] == "ok"
        response = httpx.post(
            f"{running.ingest_url}/v1/traces",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {}
    assert warehouse.scalar(f"SELECT count() FROM {warehouse.table('otel_traces')}") == 40
