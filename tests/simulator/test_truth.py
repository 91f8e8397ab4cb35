"""The manifest says what the data contains: measured from the generated rows, each injected
friction equals the manifest's observed value exactly, and the expected value within sampling
error; the incident's production numbers and the culprit deploy are consistent with the data."""

from __future__ import annotations

import math
from typing import Any

import pytest

from simulator.api import complete, make_generator
from simulator.manifest import Manifest
from simulator.rows import SpanColumns
from tests.simulator import measure


@pytest.fixture(scope="module")
def shop_day() -> tuple[Manifest, list[tuple[Any, ...]]]:
    """2,500 sessions of the shop, planned without the SDK (same rows, see test_sdk_shape)."""
    gen = make_generator("shop", seed=21, sessions=2500)
    columns = SpanColumns()
    count = 0
    for spans, _ in gen.iter_sessions():
        count += len(spans)
        for record in spans:
            columns.add_record(record, gen.resources)
    manifest = complete(gen, count, 0).manifest
    return manifest, columns.rows()


def _friction(manifest: Manifest, kind: str) -> Any:
    return next(f for f in manifest.frictions if f.kind == kind)


def _within(observed: float, expected: float, n: int, sd: float, z: float = 4.0) -> bool:
    return abs(observed - expected) <= z * sd / math.sqrt(n)


def test_dropoff_matches(shop_day: tuple[Manifest, list[tuple[Any, ...]]]) -> None:
    manifest, rows = shop_day
    sessions = measure.sessions_from_rows(rows)
    f = _friction(manifest, "dropoff")
    assert f.next_step is not None
    rate, n = measure.dropoff(sessions, f.step, f.next_step, f.segment)
    assert n == f.affected_sessions
    assert rate == pytest.approx(f.observed_value)
    assert _within(rate, f.value, n, math.sqrt(f.value * (1 - f.value)))
    assert f.value > 3 * f.baseline  # the injected effect is large against the baseline


def test_retry_matches(shop_day: tuple[Manifest, list[tuple[Any, ...]]]) -> None:
    manifest, rows = shop_day
    sessions = measure.sessions_from_rows(rows)
    f = _friction(manifest, "retry")
    attempts = measure.attempts_per_success(sessions, f.step, f.segment)
    assert attempts == pytest.approx(f.observed_value)
    assert _within(attempts, f.value, f.affected_sessions, sd=1.0)
    assert f.value > 1.4 and f.baseline < 1.05


def test_error_abandon_matches(shop_day: tuple[Manifest, list[tuple[Any, ...]]]) -> None:
    manifest, rows = shop_day
    sessions = measure.sessions_from_rows(rows)
    f = _friction(manifest, "error_abandon")
    assert f.next_step is not None
    rate, n = measure.abandon_after_error(sessions, f.step, f.next_step, f.segment)
    assert n == f.affected_sessions > 20
    assert rate == pytest.approx(f.observed_value)
    assert _within(rate, f.value, n, math.sqrt(f.value * (1 - f.value)))


def test_slow_step_matches(shop_day: tuple[Manifest, list[tuple[Any, ...]]]) -> None:
    manifest, rows = shop_day
    sessions = measure.sessions_from_rows(rows)
    f = _friction(manifest, "slow_step")
    inside = measure.p75_ms(sessions, f.step, f.segment, inside=True)
    outside = measure.p75_ms(sessions, f.step, f.segment, inside=False)
    assert inside == pytest.approx(f.observed_value, rel=1e-3)
    assert outside == pytest.approx(f.observed_baseline, rel=1e-3)
    assert inside == pytest.approx(f.value, rel=0.15)
    assert inside > 2.5 * outside


def test_incident_matches(shop_day: tuple[Manifest, list[tuple[Any, ...]]]) -> None:
    manifest, rows = shop_day
    (incident,) = manifest.incidents
    names = measure.TRACE_SCHEMA.names
    i = {n: k for k, n in enumerate(names)}
    onset_ns = int(incident.onset.timestamp() * 1e9)
    before, after, errors_after = [], [], 0
    for row in rows:
        if row[i["ServiceName"]] == incident.service and row[i["SpanName"]] in incident.operations:
            if row[i["SpanKind"]] != "Server":
                continue
            if row[i["Timestamp"]] >= onset_ns:
                after.append(row[i["Duration"]] / 1e6)
                errors_after += row[i["StatusCode"]] == "Error"
            else:
                before.append(row[i["Duration"]] / 1e6)
    (measured,) = incident.production
    assert measured.spans_after == len(after) and measured.spans_before == len(before)
    assert measured.p95_ms_after is not None and measured.p95_ms_before is not None
    assert measured.p95_ms_after > 3 * measured.p95_ms_before
    assert measured.error_rate_after == pytest.approx(errors_after / len(after), abs=1e-6)
    # the culprit's perf gate passed with numbers production contradicts
    perf = next(v for v in incident.culprit_gate_verdicts if v.gate == "perf-gate")
    assert perf.verdict == "pass" and perf.environment == "staging"
    assert measured.p95_ms_after > 3 * perf.measurements["p95_ms"]
    # the culprit is among innocent deploys, one of them to the same service
    deployments = {d.id: d for d in manifest.deployments}
    assert deployments[incident.culprit_deployment_id].culprit
    innocent = [deployments[d] for d in incident.innocent_deployment_ids]
    assert any(d.service == incident.service for d in innocent)
    assert not any(d.culprit for d in innocent)
    assert any(incident.service in f and "Authorize" in f for f in incident.pr_files), (
        incident.pr_files
    )


def test_ticket_themes_cover_problems(shop_day: tuple[Manifest, list[tuple[Any, ...]]]) -> None:
    manifest, _ = shop_day
    linked = {t.linked_id for t in manifest.ticket_themes if t.linked_id}
    assert linked == {f.id for f in manifest.frictions} | {i.id for i in manifest.incidents}
    background = [t for t in manifest.ticket_themes if t.linked_id is None]
    assert len(background) >= 4
    assert sum(t.with_personal_data for t in manifest.ticket_themes) > 0
    assert sum(t.with_session_id for t in manifest.ticket_themes) > 0
    assert manifest.counts.tickets == sum(t.count for t in manifest.ticket_themes)


def test_incident_counts_only_real_spans() -> None:
    """In the SaaS app the slow upload friction and the incident share a route: the discarded
    draws behind the friction's expected p75 must not leak into the incident's numbers."""
    gen = make_generator("saas", seed=3, sessions=600)
    columns = SpanColumns()
    for spans, _ in gen.iter_sessions():
        for record in spans:
            columns.add_record(record, gen.resources)
    manifest = complete(gen, len(columns), 0).manifest
    (incident,) = manifest.incidents
    (measured,) = incident.production
    names = measure.TRACE_SCHEMA.names
    i = {n: k for k, n in enumerate(names)}
    served = [
        row for row in columns.rows()
        if row[i["ServiceName"]] == incident.service and row[i["SpanKind"]] == "Server"
        and row[i["SpanName"]] == measured.operation
    ]  # fmt: skip
    assert measured.spans_before + measured.spans_after == len(served) > 0
