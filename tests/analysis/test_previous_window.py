"""A friction that hits everyone shows against the previous window."""

from __future__ import annotations

from datetime import UTC, datetime

from analysis.config import AnalysisSettings
from analysis.engine import analyse
from simulator.spec import DropoffProblem, ProblemSet
from tests.analysis.simdata import load_simulation
from warehouse import Warehouse

DAY1 = datetime(2026, 11, 19)
DAY2 = datetime(2026, 11, 20)


def test_everyone_dropoff_is_found_against_the_previous_window(warehouse: Warehouse) -> None:
    load_simulation(warehouse, "shop", seed=21, sessions=2000, problems=ProblemSet.none(),
                    start=DAY1.replace(tzinfo=UTC))  # fmt: skip
    everyone = DropoffProblem(flow="checkout", step="address", segment={}, rate=0.5)
    manifest = load_simulation(warehouse, "shop", seed=22, sessions=2000,
                               problems=ProblemSet(frictions=[everyone]), start=DAY2.replace(tzinfo=UTC))  # fmt: skip
    truth = manifest.frictions[0]
    result = analyse(warehouse, AnalysisSettings(), DAY2, DAY2.replace(day=21), DAY2)
    found = [c for c in result.clusters if c.kind == "dropoff" and c.step == truth.step]
    assert len(found) == 1, [c.title for c in result.clusters]
    c = found[0]
    assert c.segment == {}
    assert c.values["previous_window"] == 1.0
    assert truth.observed_value is not None
    assert abs(c.value - truth.observed_value) <= 0.03
    assert c.baseline < 0.2  # the previous day's rate of leaving there
    assert c.trend is not None and c.trend > 1.0
