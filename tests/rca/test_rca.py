"""The RCA end to end on exact telemetry in a real warehouse (chDB)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from errors import ConflictError, InputError, NotFoundError
from rca import service, store
from settings import Settings
from tests.rca.synth import T0, Fault, World, add_deployment, add_gate, write_world
from warehouse import Warehouse

ONSET = T0 + timedelta(minutes=70)
NOW = T0 + timedelta(minutes=101)


def bad_deploy_world(wh: Warehouse, fault: Fault | None = None, canary: float = 1.0) -> None:
    """pricing 2.0.0 slows its SELECT; four innocent deploys around it, two closer to the onset."""
    fault = fault or Fault(bad_version="2.0.0", onset=ONSET)
    write_world(
        wh,
        World(
            rpm=30,
            fault=fault,
            versions={
                "pricing": [(T0 + timedelta(minutes=30), "1.9.0", 1.0), (ONSET, "2.0.0", canary)],
                "api": [(ONSET - timedelta(minutes=1), "5.1.0", 1.0)],
                "web": [(ONSET, "3.0.0", 1.0)],
            },
        ),
    )
    add_deployment(
        wh,
        "dep-pricing-190",
        "pricing",
        "1.9.0",
        T0 + timedelta(minutes=30),
        pr=10,
        files=["services/pricing/catalog.py"],
    )
    add_deployment(
        wh,
        "dep-pricing-200",
        "pricing",
        "2.0.0",
        ONSET - timedelta(minutes=1),
        pr=11,
        files=["services/pricing/prices_repository.py"],
        title="Reprice with live FX",
    )
    add_deployment(
        wh,
        "dep-api-510",
        "api",
        "5.1.0",
        ONSET - timedelta(minutes=2),
        pr=12,
        files=["services/api/checkout.py"],
    )
    add_deployment(
        wh,
        "dep-web-3",
        "web",
        "3.0.0",
        ONSET - timedelta(minutes=1),
        pr=13,
        files=["web/src/cart.tsx"],
    )
    add_deployment(
        wh,
        "dep-search-9",
        "search",
        "9.0.0",
        ONSET - timedelta(minutes=5),
        pr=14,
        files=["search/index.py"],
    )
    add_gate(
        wh,
        "performance",
        11,
        ONSET - timedelta(minutes=20),
        {"p95_ms": 30.0, "rps": 5},
        {"routes": ["/checkout"]},
    )
    add_gate(wh, "qa", 11, ONSET - timedelta(minutes=21), {"tests_passed": 120}, "all green")  # fmt: skip


def test_latency_incident_names_origin_culprit_and_gate_discrepancy(
    warehouse: Warehouse, settings: Settings
) -> None:
    bad_deploy_world(warehouse)
    result = service.detect(warehouse, settings, now=NOW)
    assert len(result.incidents) == 1
    incident = result.incidents[0]
    contract = incident.contract()
    assert contract["origin"] == {"service": "pricing", "operation": "SELECT prices"}
    assert (incident.service, incident.route, incident.signal) == (
        "pricing",
        "/quote",
        "latency_p95",
    )
    assert abs((incident.onset - ONSET).total_seconds()) <= 120
    ranked = [s.deployment_id for s in incident.suspects]
    assert ranked[0] == "dep-pricing-200" and len(ranked) == 5
    top = incident.suspects[0]
    assert top.pr_number == 11
    factors = {f.name: f for f in top.factors}
    assert factors["version_split"].value > 0.5 and "degraded" in factors["version_split"].evidence
    # The same-service deploy before it gets no version evidence: it no longer served traffic.
    older = next(s for s in incident.suspects if s.deployment_id == "dep-pricing-190")
    older_split = {f.name: f for f in older.factors}["version_split"]
    assert older_split.value == 0 and "no longer served traffic" in older_split.evidence
    assert older.score < top.score / 2
    # The api deploy right before the onset does not win on timing.
    api = next(s for s in incident.suspects if s.deployment_id == "dep-api-510")
    assert {f.name: f for f in api.factors}["time_to_onset"].value > 0.9
    assert api.score < top.score / 2
    perf = next(g for g in incident.gate_findings if g.gate == "performance")
    assert perf.measured_degraded_metric
    assert perf.discrepancy.startswith(
        "performance gate: p95 30 ms in staging at 5 rps; production p95 on /quote"
    )
    assert any("/quote" in gap for gap in perf.not_covered)
    assert "/quote" in perf.recommendation
    assert incident.affected_users > 0 and incident.severity in ("critical", "high")
    # The brief states the discrepancy and is stored with the incident's version.
    md = service.brief(warehouse, settings, incident.id, "md")
    assert perf.discrepancy in md
    assert "dep-pricing-200" in md and "PR #11" in md
    saved = store.load_brief(warehouse, incident.id)
    assert saved is not None and saved.writer == "offline" and saved.grounded


def test_rerun_does_not_duplicate_or_version_an_unchanged_incident(
    warehouse: Warehouse, settings: Settings
) -> None:
    bad_deploy_world(warehouse)
    first = service.detect(warehouse, settings, now=NOW)
    second = service.detect(warehouse, settings, now=NOW + timedelta(minutes=5))
    assert [i.id for i in second.incidents] == [i.id for i in first.incidents]
    assert second.changed == []
    assert len(service.list_incidents(warehouse)) == 1
    assert [e["kind"] for e in service.history(warehouse, first.incidents[0].id)] == ["detected"]


def test_canary_error_incident_blames_the_canary_version(
    warehouse: Warehouse, settings: Settings
) -> None:
    fault = Fault(
        operation="GET /quote", factor=1.0, error_rate=0.6, bad_version="2.0.0", onset=ONSET
    )
    bad_deploy_world(warehouse, fault, canary=0.5)
    [incident] = service.detect(warehouse, settings, now=NOW).incidents
    assert incident.signal == "error_rate"
    assert incident.origin is not None
    assert (incident.origin.service, incident.origin.operation, incident.origin.kind) == (
        "pricing",
        "GET /quote",
        "errors",
    )
    top = incident.suspects[0]
    assert top.deployment_id == "dep-pricing-200"
    split = {f.name: f for f in top.factors}["version_split"]
    assert split.values["mode"] == "concurrent" and split.value > 0.9


def test_clean_world_has_no_incident(warehouse: Warehouse, settings: Settings) -> None:
    write_world(warehouse, World(rpm=30, fault=None))
    add_deployment(warehouse, "dep-api-2", "api", "2.0.0", T0 + timedelta(minutes=50), pr=3)
    result = service.detect(warehouse, settings, now=NOW)
    assert result.incidents == []
    assert service.list_incidents(warehouse) == []


def test_declared_incident_runs_the_rca_and_writes_a_brief(
    warehouse: Warehouse, settings: Settings
) -> None:
    # A mild slowdown detection would not open (x1.3); the SRE declares it.
    bad_deploy_world(warehouse, Fault(bad_version="2.0.0", onset=ONSET, factor=1.6))
    assert service.detect(warehouse, settings, now=NOW).incidents == []
    incident = service.declare(
        warehouse, settings, "pricing", ONSET, "alice", now=NOW, note="customers report slow quotes"
    )
    assert incident.source == "declared" and incident.declared_by == "alice"
    assert incident.signal == "declared" and incident.service == "pricing"
    assert incident.onset == ONSET
    assert incident.origin is not None and incident.origin.operation == "SELECT prices"
    assert incident.suspects[0].deployment_id == "dep-pricing-200"
    assert service.get_incident(warehouse, incident.id).declared_by == "alice"
    events = service.history(warehouse, incident.id)
    assert events[0]["kind"] == "declared" and events[0]["actor"] == "alice"
    assert events[0]["note"] == "customers report slow quotes"
    assert store.load_brief(warehouse, incident.id) is not None
    with pytest.raises(InputError, match="no spans of service 'nope'"):
        service.declare(warehouse, settings, "nope", ONSET, "alice", now=NOW)
    with pytest.raises(InputError, match="future"):
        service.declare(warehouse, settings, "pricing", NOW + timedelta(hours=1), "alice", now=NOW)


def test_resolution_is_remembered_by_the_next_similar_incident(
    warehouse: Warehouse, settings: Settings
) -> None:
    bad_deploy_world(warehouse)
    [first] = service.detect(
        warehouse, settings, since=T0, until=T0 + timedelta(minutes=100), now=NOW
    ).incidents
    resolved = service.resolve(
        warehouse, first.id, "rolled back pricing 2.0.0; FX lookup cached", "bob", now=NOW
    )
    assert resolved.status == "resolved" and resolved.version == 2
    with pytest.raises(ConflictError):
        service.resolve(warehouse, first.id, "again", "bob", now=NOW)
    with pytest.raises(InputError):
        service.resolve(warehouse, first.id, "  ", "bob", now=NOW)
    with pytest.raises(NotFoundError):
        service.resolve(warehouse, "inc-missing", "x", "bob", now=NOW)
    assert service.list_incidents(warehouse, status="resolved")[0].id == first.id
    # The same regression comes back a day later.
    later = T0 + timedelta(days=1)
    write_world(
        warehouse,
        World(
            start=later, rpm=30,
            fault=Fault(bad_version="2.1.0", onset=later + timedelta(minutes=70)),
            versions={"pricing": [(later + timedelta(minutes=70), "2.1.0", 1.0)]},
        ),
    )  # fmt: skip
    add_deployment(warehouse, "dep-pricing-210", "pricing", "2.1.0", later + timedelta(minutes=69), pr=21, files=["services/pricing/prices_repository.py"])  # fmt: skip
    result = service.detect(
        warehouse,
        settings,
        since=later,
        until=later + timedelta(minutes=100),
        now=later + timedelta(minutes=101),
    )
    [second] = result.incidents
    assert second.id != first.id
    assert second.similar and second.similar[0].id == first.id
    assert second.similar[0].resolution == "rolled back pricing 2.0.0; FX lookup cached"
    assert "same origin pricing SELECT prices" in second.similar[0].reasons
    md = service.brief(warehouse, settings, second.id, "md")
    assert "FX lookup cached" in md


def test_brief_formats(warehouse: Warehouse, settings: Settings) -> None:
    bad_deploy_world(warehouse)
    [incident] = service.detect(warehouse, settings, now=NOW).incidents
    html = service.brief(warehouse, settings, incident.id, "html")
    assert "<svg" in html and 'class="onset"' in html and 'class="deploy"' in html
    assert "<script" not in html and "src=" not in html and "@import" not in html
    data = json.loads(service.brief(warehouse, settings, incident.id, "json"))
    assert data["incident"]["id"] == incident.id
    assert data["brief"]["text"]["summary"]
    assert data["incident"]["suspects"][0]["factors"][0]["evidence"]
    with pytest.raises(InputError, match="unknown brief format"):
        service.brief(warehouse, settings, incident.id, "pdf")
