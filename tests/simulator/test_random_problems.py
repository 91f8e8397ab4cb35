"""Randomised problem sets: valid for both apps, different per seed, clean when asked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simulator.api import load_app, random_problems, simulate
from simulator.spec import ProblemSet


@pytest.mark.parametrize("name", ["shop", "saas"])
def test_twenty_different_incidents(name: str) -> None:
    app = load_app(name)
    seen = set()
    same_service = 0
    closer_innocent = 0
    for seed in range(20):
        problems = random_problems(app, seed)
        (bad,) = problems.bad_deploys
        seen.add((bad.service, tuple(bad.routes), bad.at_hour, bad.signal))
        assert 1 <= len(problems.frictions) <= 3
        assert any(d.service == bad.service for d in problems.deploys)
        same_service += 1
        if bad.onset_delay_minutes >= 15:
            # innocent deploys land between the culprit and the onset
            window = [
                d
                for d in problems.deploys
                if bad.at_hour < d.at_hour < bad.at_hour + bad.onset_delay_minutes / 60
            ]
            assert window
            closer_innocent += 1
    assert len(seen) == 20
    assert len({s[0] for s in seen}) >= 3  # culprit services vary
    assert closer_innocent >= 5 and same_service == 20


def test_random_scenario_simulates_with_consistent_manifest() -> None:
    app = load_app("saas")
    sim = simulate(app, seed=8, sessions=80, problems=random_problems(app, 8))
    (incident,) = sim.manifest.incidents
    culprit = next(d for d in sim.manifest.deployments if d.id == incident.culprit_deployment_id)
    assert culprit.culprit and culprit.service == incident.service
    assert incident.onset >= culprit.finished_at
    assert incident.onset - culprit.finished_at <= timedelta(minutes=41)
    for deployment_id in incident.innocent_deployment_ids:
        assert deployment_id != incident.culprit_deployment_id


def test_clean_scenario_injects_nothing() -> None:
    app = load_app("shop")
    sim = simulate(app, seed=2, sessions=60, problems=random_problems(app, 2, clean=True))
    assert sim.manifest.clean
    assert not sim.manifest.frictions and not sim.manifest.incidents
    assert all(t.linked_id is None for t in sim.manifest.ticket_themes)
    assert sim.manifest.deployments and not any(d.culprit for d in sim.manifest.deployments)
    none = simulate(app, seed=2, sessions=40, problems=ProblemSet.none())
    assert none.manifest.clean and not none.manifest.deployments
