"""The simulator's outputs go through andon's real ingest paths unchanged: spans and logs over
OTLP/HTTP into the receiver (same rows as the Collector mapping), tickets and change events
through `andon ingest` (nothing rejected)."""

from __future__ import annotations

import json
from pathlib import Path

from ingest import changes as change_ingest
from ingest import tickets as ticket_ingest
from server.runtime import start_server
from settings import Settings
from simulator.api import Simulation, load_warehouse, send_otlp, write_files
from simulator.rows import SpanColumns
from warehouse import Warehouse

_COLUMNS = (
    "TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, "
    "ScopeName, SpanAttributes, Duration, StatusCode, StatusMessage, Events.Name"
)


def _as_rows(sim: Simulation) -> list[tuple[object, ...]]:
    columns = SpanColumns()
    for span in sim.spans:
        columns.add_sdk(span)
    keep = [n.strip() for n in _COLUMNS.split(",")]
    rows = []
    for values in columns.rows():
        row = dict(zip(columns.names, values, strict=True))
        rows.append(
            tuple(
                dict(row[k]) if k in ("ResourceAttributes", "SpanAttributes") else row[k]
                for k in keep
            )
        )
    return sorted(rows, key=lambda r: str(r[1]))


def test_send_through_the_receiver(
    small_shop: Simulation, settings: Settings, warehouse: Warehouse
) -> None:
    running = start_server(settings, warehouse, ingest_port=0, console_port=0)
    try:
        spans, logs = send_otlp(small_shop, running.ingest_url)
    finally:
        running.stop()
    assert spans == len(small_shop.spans) and logs == len(small_shop.logs) > 0
    stored = warehouse.rows(
        f"SELECT {_COLUMNS} FROM {warehouse.table('otel_traces')} ORDER BY SpanId"
    )
    assert [tuple(r) for r in stored] == _as_rows(small_shop)
    log_count = warehouse.scalar(
        f"SELECT count() FROM {warehouse.table('otel_logs')} "
        "WHERE SeverityNumber >= 17 AND TraceId != '' AND LogAttributes['exception.type'] != ''"
    )
    assert log_count == len(small_shop.logs)


def test_load_warehouse_matches_sdk(small_saas: Simulation, warehouse: Warehouse) -> None:
    spans, _ = load_warehouse(small_saas, warehouse)
    assert spans == len(small_saas.spans)
    stored = warehouse.rows(
        f"SELECT {_COLUMNS} FROM {warehouse.table('otel_traces')} ORDER BY SpanId"
    )
    assert [tuple(r) for r in stored] == _as_rows(small_saas)
    # the Collector's trace-id lookup table is filled by its materialized view
    assert warehouse.scalar(f"SELECT count() FROM {warehouse.table('otel_traces_trace_id_ts')}")


def test_tickets_and_changes_ingest_cleanly(
    small_shop: Simulation, settings: Settings, warehouse: Warehouse, tmp_path: Path
) -> None:
    paths = write_files(small_shop, tmp_path, telemetry=False)
    for name in ("tickets_csv", "tickets_jsonl"):
        report = ticket_ingest.ingest_file(
            warehouse, paths[name], source=name, settings=settings.collectors
        )
        assert report.rejected == [] and report.stored == len(small_shop.tickets)
    report = change_ingest.ingest_file(warehouse, paths["changes"])
    assert report.rejected == [] and report.stored == len(small_shop.changes)
    kinds = {json.loads(line)["type"] for line in paths["changes"].read_text().splitlines()}
    assert kinds == {"pull_request", "deployment", "gate_verdict"}
    culprit = small_shop.manifest.incidents[0]
    stored = warehouse.rows(
        f"SELECT Service, Version, CommitSha FROM {warehouse.table('andon_deployments')} "
        "WHERE DeploymentId = {id:String}",
        {"id": culprit.culprit_deployment_id},
    )
    assert stored == [(culprit.service, culprit.version, culprit.commit_sha)]
    # personal data in ticket text is redacted by ingest: no raw email survives
    bodies = warehouse.rows(f"SELECT Body FROM {warehouse.table('andon_support_tickets')}")
    raw = [t["body"] for t in small_shop.tickets if "@" in t["body"]]
    assert raw, "some tickets carry an email address"
    assert not any("@gmail.com" in b or "@outlook.com" in b for (b,) in bodies)


def test_bulk_load_in_background_matches_sdk_path(warehouse: Warehouse) -> None:
    """The volume path (a producer process + inserts here) stores what the SDK path produces."""
    from simulator.api import bulk_load, simulate

    done: list[int] = []
    bulk = bulk_load(
        "shop", warehouse, seed=6, sessions=120, chunk_sessions=50, background=True,
        progress=lambda n, total: done.append(n),
    )  # fmt: skip
    sdk = simulate("shop", seed=6, sessions=120)
    assert done == [50, 100, 120]
    assert bulk.manifest == sdk.manifest
    assert bulk.tickets == sdk.tickets and bulk.changes == sdk.changes
    stored = warehouse.rows(
        f"SELECT {_COLUMNS} FROM {warehouse.table('otel_traces')} ORDER BY SpanId"
    )
    assert [tuple(r) for r in stored] == _as_rows(sdk)
    logs = warehouse.scalar(f"SELECT count() FROM {warehouse.table('otel_logs')}")
    assert logs == len(sdk.logs) == bulk.log_count
