"""End to end on simulated telemetry: every injected friction found, nothing on a clean system."""

from __future__ import annotations

import math

import pytest

from analysis.config import AnalysisSettings
from analysis.engine import AnalysisResult, analyse
from analysis.evidence_sql import run_cluster_sql
from analysis.scoring import score
from simulator.manifest import Manifest
from tests.analysis.simdata import window
from warehouse import Warehouse

FRICTION_KINDS = {"dropoff", "retry", "error_abandon", "slow_step"}


@pytest.fixture(scope="session")
def default_result(shop_default: tuple[Warehouse, Manifest]) -> AnalysisResult:
    wh, manifest = shop_default
    since, until = window(manifest)
    return analyse(wh, AnalysisSettings(), since, until, until)


def test_every_injected_friction_is_found_within_tolerance(
    shop_default: tuple[Warehouse, Manifest], default_result: AnalysisResult
) -> None:
    _, manifest = shop_default
    result = score(default_result.clusters, manifest)
    assert len(result.matches) == 4
    for m in result.matches:
        assert m.cluster_id, f"{m.truth_id} not found"
        assert m.within_tolerance, f"{m.truth_id}: {m.value} vs truth {m.truth_value}"
    assert len(result.unexpected) <= 1, [c.title for c in result.unexpected]


def test_clean_system_yields_no_cluster(shop_clean: tuple[Warehouse, Manifest]) -> None:
    wh, manifest = shop_clean
    since, until = window(manifest)
    result = analyse(wh, AnalysisSettings(), since, until, until)
    assert result.sessions > 1000
    assert result.clusters == []


def test_flows_are_discovered_with_their_goal(
    shop_default: tuple[Warehouse, Manifest], default_result: AnalysisResult
) -> None:
    _, manifest = shop_default
    checkout = manifest.flows["checkout"]
    discovered = [f for f in default_result.flows if f.goal == checkout[-1]]
    assert discovered and list(discovered[0].steps) == checkout


def test_evidence_sql_reproduces_every_number(
    shop_default: tuple[Warehouse, Manifest], default_result: AnalysisResult
) -> None:
    wh, manifest = shop_default
    since, until = window(manifest)
    frictions = [c for c in default_result.clusters if c.kind in FRICTION_KINDS]
    assert frictions
    for c in frictions:
        assert "{" not in c.sql.split("arrayFilter")[0] or "{step" not in c.sql  # rendered
        got = wh.rows(c.sql)[0]
        value, baseline, affected = float(got[0]), float(got[1]), int(got[2])
        assert math.isclose(value, c.value, rel_tol=1e-3, abs_tol=1e-3), c.title
        assert math.isclose(baseline, c.baseline, rel_tol=1e-3, abs_tol=1e-3), c.title
        assert affected == c.affected_sessions, c.title
        # the same query, parameterised, over the window: same numbers
        from analysis.evidence_sql import cluster_sql

        branches = str(c.values.get("other_flows_next_steps", ""))
        entry = str(c.values.get("came_from_steps", ""))
        sql, params = cluster_sql(wh, c.kind, c.step, c.next_step, c.segment,
                                  [b for b in branches.split(", ") if b],
                                  [s for s in entry.split(", ") if s])  # fmt: skip
        again = run_cluster_sql(wh, sql, params, since, until, 30.0)
        assert math.isclose(again["value"], value, rel_tol=1e-9)


def test_exemplar_traces_are_real_and_show_the_friction(
    shop_default: tuple[Warehouse, Manifest], default_result: AnalysisResult
) -> None:
    wh, _ = shop_default
    for c in default_result.clusters:
        if c.kind not in FRICTION_KINDS:
            continue
        assert c.exemplar_trace_ids
        found = wh.rows(
            f"SELECT DISTINCT TraceId FROM {wh.table('otel_traces')} "
            "WHERE TraceId IN {ids:Array(String)} AND ParentSpanId = '' "
            "AND SpanAttributes['http.route'] = {step:String}",
            {"ids": c.exemplar_trace_ids, "step": c.step},
        )
        assert len(found) == len(set(c.exemplar_trace_ids)), c.title


def test_every_title_figure_is_in_values(default_result: AnalysisResult) -> None:
    for c in default_result.clusters:
        if c.kind not in FRICTION_KINDS:
            continue
        assert c.values["value"] == c.value and c.values["affected_sessions"] == c.affected_sessions
        assert str(c.affected_sessions) in c.title
        assert c.ci_low is not None and c.ci_high is not None
        assert c.ci_low <= c.value <= c.ci_high
        assert c.q_value is not None and c.q_value <= AnalysisSettings().fdr


def test_clusters_are_ranked_and_linked(default_result: AnalysisResult) -> None:
    scores = [c.score for c in default_result.clusters]
    assert scores == sorted(scores, reverse=True)
    by_kind = {c.kind: c for c in default_result.clusters}
    # the error_abandon at shipping names the error its failing steps raised
    shipping = [c for c in default_result.clusters if c.step == "/checkout/shipping"]
    assert shipping and shipping[0].linked_error_fingerprints
    # support tickets about the android address drop-off are linked to it
    dropoff = by_kind["dropoff"]
    assert dropoff.linked_ticket_ids
    assert default_result.themes


def test_same_window_gives_the_same_clusters(
    shop_default: tuple[Warehouse, Manifest], default_result: AnalysisResult
) -> None:
    wh, manifest = shop_default
    since, until = window(manifest)
    again = analyse(wh, AnalysisSettings(), since, until, until)
    assert [c.model_dump() for c in again.clusters] == [
        c.model_dump() for c in default_result.clusters
    ]


@pytest.mark.parametrize(("app", "seed"), [("saas", 2)])
def test_random_scenario_of_the_other_app(warehouse: Warehouse, app: str, seed: int) -> None:
    """A seeded random scenario (frictions and a bad deploy) of the second built-in app."""
    from simulator.api import load_app, random_problems
    from tests.analysis.simdata import load_simulation

    problems = random_problems(load_app(app), seed)
    manifest = load_simulation(warehouse, app, seed=seed, sessions=3000, problems=problems)
    since, until = window(manifest)
    result = score(analyse(warehouse, AnalysisSettings(), since, until, until).clusters, manifest)
    assert result.matches and result.found == len(result.matches)
    assert result.within == len(result.matches), [
        m for m in result.matches if not m.within_tolerance
    ]
    assert len(result.unexpected) <= 1


def test_dropoffs_at_steps_flows_share_are_the_flows_own(warehouse: Warehouse) -> None:
    """saas: /files/upload ends onboarding and is the middle of file sharing; /files opens both
    file sharing and upgrade. A drop-off in file sharing at either is measured over the sessions
    that are in file sharing there by their path, exactly as the manifest counts them."""
    from simulator.spec import DropoffProblem, ProblemSet
    from tests.analysis.simdata import load_simulation

    problems = ProblemSet(
        frictions=[
            DropoffProblem(flow="file_sharing", step="upload", segment={"app.platform": "ios"},
                           rate=0.75),
            DropoffProblem(flow="file_sharing", step="dashboard",
                           segment={"browser.name": "Chrome"}, rate=0.7),
        ]
    )  # fmt: skip
    manifest = load_simulation(warehouse, "saas", seed=11, sessions=4000, problems=problems)
    since, until = window(manifest)
    result = analyse(warehouse, AnalysisSettings(), since, until, until)
    scored = score(result.clusters, manifest)
    by_id = {c.id: c for c in result.clusters}
    for truth, m in zip(manifest.frictions, scored.matches, strict=True):
        assert m.cluster_id, f"{truth.id} not found"
        cluster = by_id[m.cluster_id]
        assert truth.observed_value is not None
        assert cluster.value == pytest.approx(truth.observed_value, abs=1e-3), truth.id
        assert cluster.affected_sessions == truth.affected_sessions, truth.id
    upload = by_id[scored.matches[0].cluster_id or ""]
    assert upload.values["came_from_steps"] == "/files"  # not onboarding's /onboarding/invite
