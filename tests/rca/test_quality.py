"""RCA quality on simulated incidents (a small set; `benchmarks/rca_quality.py` runs the full
table): the culprit ranked first, the onset within 2 minutes, the gate discrepancy stated in the
brief, and no incident on a clean scenario."""

from __future__ import annotations

import pytest

from benchmarks.rca_quality import ONSET_TOLERANCE_S, evaluate
from settings import Settings
from warehouse import Warehouse

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("app", "seed"), [("shop", 3), ("saas", 5)])
def test_simulated_incident_culprit_onset_and_gate(
    warehouse: Warehouse, settings: Settings, app: str, seed: int
) -> None:
    outcome = evaluate(warehouse, settings, app, seed, clean=False, sessions=8000)
    assert outcome.truth is not None and outcome.matched is not None
    assert outcome.candidates >= 4
    assert outcome.culprit_rank == 1, [(s.deployment_id, s.score) for s in outcome.matched.suspects]
    assert outcome.onset_error_s is not None and abs(outcome.onset_error_s) <= ONSET_TOLERANCE_S
    assert outcome.matched.origin is not None
    assert outcome.matched.origin.service == outcome.truth.service
    assert outcome.gate_measured and outcome.gate_stated


def test_clean_scenario_has_no_incident(warehouse: Warehouse, settings: Settings) -> None:
    outcome = evaluate(warehouse, settings, "shop", 7, clean=True, sessions=3000)
    assert outcome.incidents == []
