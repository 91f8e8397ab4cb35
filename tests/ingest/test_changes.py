from __future__ import annotations

import json
from pathlib import Path

from ingest import changes
from warehouse import Warehouse

EVENTS = [
    {"type": "pull_request", "repo": "acme/shop", "number": 412, "title": "Validate addresses", "author": "dana", "merged_at": "2026-03-01T09:00:00Z", "merge_commit_sha": "A1B2C3D4", "files": ["checkout/address.py"]},
    {"type": "deployment", "id": "d-1", "service": "checkout", "version": "1.4.0", "commit_sha": "a1b2c3d4", "environment": "production", "started_at": "2026-03-01T10:00:00Z", "finished_at": "2026-03-01T10:05:00Z", "status": "success"},
    {"type": "gate_verdict", "gate": "perf", "verdict": "pass", "pr_number": 412, "at": "2026-03-01T09:30:00Z", "environment": "staging", "measurements": {"p95_ms": 180.5, "error_rate": "0.01"}, "details": "k6 smoke"},
    {"type": "gate_verdict", "gate": "perf", "verdict": "maybe", "pr_number": 413, "at": "2026-03-01T09:30:00Z"},
    {"type": "deployment", "id": "d-2", "service": "checkout", "version": "1.4.1", "started_at": "2026-03-01T10:00:00Z", "finished_at": "2026-03-01T09:00:00Z"},
    {"type": "gate_verdict", "gate": "qa", "verdict": "fail", "at": "2026-03-01T09:30:00Z"},
    {"type": "gate_verdict", "gate": "qa", "verdict": "fail", "commit_sha": "abc", "at": "2026-03-01T09:30:00Z", "measurements": {"x": "fast"}},
    {"type": "release", "id": 1},
]  # fmt: skip


def test_jsonl_changes(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    report = changes.ingest_file(warehouse, path)
    assert report.stored == 3
    assert [(r.line, r.field) for r in report.rejected] == [
        (4, "verdict"),
        (5, "finished_at"),
        (6, "pr_number"),
        (7, "measurements.x"),
        (8, "type"),
    ]
    pr = warehouse.rows(
        f"SELECT Repo, Number, MergeCommitSha, Files FROM {warehouse.table('andon_pull_requests')}"
    )
    assert pr == [("acme/shop", 412, "a1b2c3d4", ["checkout/address.py"])]
    gate = warehouse.rows(
        f"SELECT Verdict, PrNumber, Measurements FROM {warehouse.table('andon_gate_verdicts')}"
    )
    assert gate == [("pass", 412, {"p95_ms": 180.5, "error_rate": 0.01})]

    again = changes.ingest_file(warehouse, path)
    assert (again.stored, again.duplicates) == (0, 3)


def test_deployment_update_adds_a_version(warehouse: Warehouse, tmp_path: Path) -> None:
    base = {"type": "deployment", "id": "d-9", "service": "api", "version": "2.0", "started_at": "2026-03-01T10:00:00Z", "status": "in_progress"}  # fmt: skip
    done = {**base, "status": "success", "finished_at": "2026-03-01T10:03:00Z"}
    first, second = tmp_path / "started.jsonl", tmp_path / "finished.jsonl"
    first.write_text(json.dumps(base) + "\n")
    second.write_text(json.dumps(done) + "\n")
    assert changes.ingest_file(warehouse, first).stored == 1
    assert changes.ingest_file(warehouse, second).stored == 1
    assert changes.ingest_file(warehouse, second).duplicates == 1
    table = warehouse.table("andon_deployments")
    assert warehouse.scalar(f"SELECT count() FROM {table}") == 2
    assert warehouse.scalar(f"SELECT argMax(Status, IngestedAt) FROM {table}") == "success"
    assert warehouse.rows(f"SELECT Status, FinishedAt IS NOT NULL FROM {table} FINAL") == [
        ("success", True)
    ]
