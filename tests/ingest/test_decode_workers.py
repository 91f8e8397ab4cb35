"""OTLP bodies decoded in worker processes: the same rows as every other path, a dead worker
costs a retry (never data), and the workers stop with the server."""

from __future__ import annotations

import gzip
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.otlp_decode import decode_logs_json, decode_traces_json
from server import app as server_app
from server.runtime import RunningServer, start_server
from settings import Settings
from tests.ingest.test_otlp_decode import SPEC_LOGS
from warehouse import Warehouse

JSON = {"Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _receiver_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_app, "BACKGROUND_SERVICES", [])


def _with(settings: Settings, **ingest: object) -> Settings:
    return settings.model_copy(update={"ingest": settings.ingest.model_copy(update=ingest)})


@pytest.fixture
def server(settings: Settings, warehouse: Warehouse) -> Iterator[RunningServer]:
    with start_server(settings, warehouse, ingest_port=0, console_port=0) as running:
        yield running


def _all_rows(wh: Warehouse, table: str) -> list[tuple[object, ...]]:
    # Every column, as text, in a stable order: a byte-for-byte comparison of what is stored.
    return wh.rows(f"SELECT formatRow('TSV', *) AS row FROM {wh.table(table)} ORDER BY row")


def _truncate(wh: Warehouse) -> None:
    for table in ("otel_traces", "otel_logs"):
        wh.command(f"TRUNCATE TABLE {wh.table(table)}")


def test_workers_threads_and_plain_inserts_store_identical_rows(
    settings: Settings, warehouse: Warehouse, shared_data: Path
) -> None:
    hotrod = (shared_data / "otlp" / "hotrod-trace-otlp.json").read_bytes()
    logs = json.dumps(SPEC_LOGS).encode()
    stored = {}
    for processes in (True, False):
        _truncate(warehouse)
        with start_server(
            _with(settings, decode_processes=processes), warehouse, ingest_port=0, console_port=0
        ) as running:
            traces = httpx.post(
                f"{running.ingest_url}/v1/traces",
                content=gzip.compress(hotrod),
                headers={**JSON, "Content-Encoding": "gzip"},
            )
            assert traces.status_code == 200, traces.text
            assert httpx.post(
                f"{running.ingest_url}/v1/logs", content=logs, headers=JSON
            ).is_success
            assert bool(running.context.decoders.pids()) is processes
        stored[processes] = (
            _all_rows(warehouse, "otel_traces"),
            _all_rows(warehouse, "otel_logs"),
        )
    # The plain column insert of the same decoded rows, the path every other writer takes.
    _truncate(warehouse)
    for batch in (decode_traces_json(hotrod), decode_logs_json(logs)):
        warehouse.insert_columns(batch.table, list(batch.columns.values()), list(batch.columns))
    plain = (_all_rows(warehouse, "otel_traces"), _all_rows(warehouse, "otel_logs"))
    assert len(plain[0]) == 40 and len(plain[1]) == 1  # the HotROD trace, the spec log
    assert stored[True] == stored[False] == plain


def test_a_dead_worker_costs_a_retry_not_data(server: RunningServer, warehouse: Warehouse) -> None:
    url = f"{server.ingest_url}/v1/logs"
    body = json.dumps(SPEC_LOGS).encode()
    assert httpx.post(url, content=body, headers=JSON).status_code == 200
    workers = server.context.decoders.pids()
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    statuses = []
    for _ in range(5):
        response = httpx.post(url, content=body, headers=JSON)
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert "decode worker" in response.json()["message"]
        time.sleep(0.2)
    assert statuses[-1] == 200, statuses
    # A fresh pool took over; every acknowledged request is stored.
    assert set(server.context.decoders.pids()).isdisjoint(workers)
    count = warehouse.scalar(f"SELECT count() FROM {warehouse.table('otel_logs')}")
    assert count == 1 + statuses.count(200)


def test_workers_stop_with_the_server(settings: Settings, warehouse: Warehouse) -> None:
    with start_server(settings, warehouse, ingest_port=0, console_port=0) as running:
        response = httpx.post(f"{running.ingest_url}/v1/logs", json=SPEC_LOGS)
        assert response.status_code == 200
        workers = running.context.decoders.pids()
        assert workers
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
