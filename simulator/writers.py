"""Where a simulation goes: files, an OTLP/HTTP receiver, or the warehouse.

- `write_files`: ``traces.otlp.jsonl`` and ``logs.otlp.jsonl`` (one OTLP/JSON export request
  per line, as the Collector's file exporter writes them: hex ids, integer enums; see
  `simulator.otlp_json`), ``tickets.csv``,
  ``tickets.jsonl``, ``changes.jsonl`` and ``manifest.json``. Byte-identical for the same seed.
- `send_otlp`: the SDK's own ``OTLPSpanExporter`` / ``OTLPLogExporter`` (protobuf over HTTP),
  in batches, with the exporters' retry on 429/503.
- `load_warehouse`: the SDK's spans and logs as ``otel_traces`` / ``otel_logs`` rows.
"""

from __future__ import annotations

import csv
import json
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from errors import AndonError, InputError
from simulator.otlp_json import logs_json, spans_json
from simulator.records import LogRecordSpec, ResourceTable, SpanRecord
from simulator.rows import LogColumns, SpanColumns

if TYPE_CHECKING:
    from simulator.api import Simulation

BATCH_SPANS = 2000
INSERT_ROWS = 50_000
TICKET_COLUMNS = [
    "id", "created_at", "subject", "body", "channel", "tags", "user_id", "session_id", "status",
    "priority",
]  # fmt: skip


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def write_files(sim: Simulation, out_dir: str | Path, *, telemetry: bool = True) -> dict[str, Path]:
    """Write the simulation as files in ``out_dir`` (created); returns name -> path.

    ``telemetry=False`` skips the OTLP JSON files (when spans went to a receiver instead).
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory ({exc.strerror})", file=str(out)) from exc
    paths = {
        "tickets_csv": out / "tickets.csv",
        "tickets_jsonl": out / "tickets.jsonl",
        "changes": out / "changes.jsonl",
        "manifest": out / "manifest.json",
    }
    if telemetry and (sim.spans or not sim.span_count):
        paths["traces"] = out / "traces.otlp.jsonl"
        paths["logs"] = out / "logs.otlp.jsonl"
        with paths["traces"].open("w", encoding="utf-8") as fh:
            for batch in _batches(sim.spans, BATCH_SPANS):
                fh.write(spans_json(batch) + "\n")
        with paths["logs"].open("w", encoding="utf-8") as fh:
            for batch in _batches(sim.logs, BATCH_SPANS):
                fh.write(logs_json(batch) + "\n")
    with paths["tickets_csv"].open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TICKET_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for ticket in sim.tickets:
            writer.writerow({**ticket, "tags": ",".join(ticket["tags"])})
    with paths["tickets_jsonl"].open("w", encoding="utf-8") as fh:
        for ticket in sim.tickets:
            fh.write(json.dumps(ticket, ensure_ascii=False) + "\n")
    with paths["changes"].open("w", encoding="utf-8") as fh:
        for event in sim.changes:
            fh.write(json.dumps(event, ensure_ascii=False) + "\n")
    paths["manifest"].write_text(sim.manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return paths


def send_otlp(
    sim: Simulation,
    endpoint: str,
    *,
    headers: dict[str, str] | None = None,
    batch_size: int = BATCH_SPANS,
    timeout: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Send spans and logs to an OTLP/HTTP receiver (``endpoint`` = base URL, e.g. port 4318).

    Uses the OpenTelemetry SDK's OTLP/HTTP exporters. Returns (spans, logs) sent; raises
    `AndonError` naming the endpoint when the receiver refuses a batch after the exporter's
    retries.
    """
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs.export import LogRecordExportResult
    from opentelemetry.sdk.trace.export import SpanExportResult

    base = endpoint.rstrip("/")
    check_reachable(base)
    span_exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces", headers=headers, timeout=timeout)
    log_exporter = OTLPLogExporter(endpoint=f"{base}/v1/logs", headers=headers, timeout=timeout)
    total = len(sim.spans) + len(sim.logs)
    done = 0
    try:
        for batch in _batches(sim.spans, batch_size):
            if span_exporter.export(batch) is not SpanExportResult.SUCCESS:
                raise AndonError(
                    f"could not deliver spans to {base}/v1/traces (refused, or retries exhausted)"
                )
            done += len(batch)
            if progress is not None:
                progress(done, total)
        for batch in _batches(sim.logs, batch_size):
            if log_exporter.export(batch) is not LogRecordExportResult.SUCCESS:
                raise AndonError(
                    f"could not deliver logs to {base}/v1/logs (refused, or retries exhausted)"
                )
            done += len(batch)
            if progress is not None:
                progress(done, total)
    finally:
        span_exporter.shutdown()
        log_exporter.shutdown()
    return len(sim.spans), len(sim.logs)


def check_reachable(base: str) -> None:
    """Fail at once, with the address, when nothing listens there (instead of retrying for a
    minute inside the exporter)."""
    parsed = urlparse(base)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(f"not an http(s) URL: {base!r}", field="endpoint")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=5):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise AndonError(f"cannot reach the OTLP receiver at {base}: {reason}") from exc


def load_warehouse(sim: Simulation, warehouse: Any) -> tuple[int, int]:
    """Insert the SDK's spans and logs into otel_traces / otel_logs; returns (spans, logs)."""
    for batch in _batches(sim.spans, INSERT_ROWS):
        columns = SpanColumns()
        for span in batch:
            columns.add_sdk(span)
        warehouse.insert_arrow("otel_traces", columns.table())
    for batch in _batches(sim.logs, INSERT_ROWS):
        log_columns = LogColumns()
        for log in batch:
            log_columns.add_sdk(log)
        warehouse.insert_arrow("otel_logs", log_columns.table())
    return len(sim.spans), len(sim.logs)


def bulk_load_rows(
    warehouse: Any,
    spans: Sequence[SpanRecord],
    logs: Sequence[LogRecordSpec],
    resources: ResourceTable,
) -> None:
    """Insert planned records directly (the bulk path: no SDK objects, same rows)."""
    for batch in _batches(spans, INSERT_ROWS):
        columns = SpanColumns()
        for record in batch:
            columns.add_record(record, resources)
        warehouse.insert_arrow("otel_traces", columns.table())
    for batch in _batches(logs, INSERT_ROWS):
        log_columns = LogColumns()
        for log in batch:
            log_columns.add_record(log, resources)
        warehouse.insert_arrow("otel_logs", log_columns.table())
