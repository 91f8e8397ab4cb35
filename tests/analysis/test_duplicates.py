"""Duplicate spans (a client retrying an export) do not change any figure."""

from __future__ import annotations

from analysis.config import AnalysisSettings
from analysis.engine import analyse
from ingest.errors import derive_errors
from tests.analysis.simdata import load_simulation, window
from warehouse import Warehouse


def test_duplicate_spans_change_nothing(warehouse: Warehouse) -> None:
    manifest = load_simulation(warehouse, "shop", seed=11, sessions=1500)
    since, until = window(manifest)
    before = analyse(warehouse, AnalysisSettings(), since, until, until)
    assert before.clusters
    traces = warehouse.table("otel_traces")
    spans = warehouse.scalar(f"SELECT count() FROM {traces}")
    # A third of all spans arrive twice, in a later batch.
    warehouse.command(
        f"INSERT INTO {traces} SELECT * FROM {traces} WHERE cityHash64(SpanId) % 3 = 0"
    )
    assert warehouse.scalar(f"SELECT count() FROM {traces}") > spans * 1.2
    derive_errors(warehouse, since, until)
    after = analyse(warehouse, AnalysisSettings(), since, until, until)
    assert [c.model_dump() for c in after.clusters] == [c.model_dump() for c in before.clusters]
    assert after.sessions == before.sessions
