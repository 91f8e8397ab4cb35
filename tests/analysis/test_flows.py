"""Flow discovery from journeys, and declared flows."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from analysis.config import FlowSpec
from analysis.flows import declared_flows, discover_flows, flow_transitions, siblings


def _sessions(journeys: list[tuple[list[str], int]]) -> pl.DataFrame:
    rows = [steps for steps, n in journeys for _ in range(n)]
    return pl.DataFrame({"steps": rows}, schema={"steps": pl.List(pl.String)})


def test_discovers_branching_flows_and_their_goals() -> None:
    sessions = _sessions([
        (["/", "/search", "/product", "/cart", "/pay"], 300),
        (["/", "/search", "/product", "/product", "/cart"], 120),  # repeats do not matter
        (["/", "/search", "/product"], 400),
        (["/", "/orders"], 150),
        (["/", "/help"], 3),  # too rare to be a flow
    ])  # fmt: skip
    flows = discover_flows(sessions, min_sessions=50)
    assert [f.steps for f in flows] == [
        ("/", "/search", "/product", "/cart", "/pay"),
        ("/", "/orders"),
    ]
    assert [f.goal for f in flows] == ["/pay", "/orders"]
    units = flow_transitions(flows)
    assert ("/", "/search", flows[0].name, "/pay") in units
    assert siblings(units, "/", "/search") == ["/orders"]
    assert siblings(units, "/cart", "/pay") == []


def test_declared_flows_are_used_as_given() -> None:
    spec = FlowSpec(name="checkout", steps=["/cart", "/address", "/pay"], goal="/pay")
    flow = declared_flows([spec])[0]
    assert flow.declared and flow.transitions() == [("/cart", "/address"), ("/address", "/pay")]


def test_declared_flow_is_validated() -> None:
    with pytest.raises(ValidationError, match="goal"):
        FlowSpec(name="x", steps=["/a", "/b"], goal="/c")
    with pytest.raises(ValidationError, match="distinct"):
        FlowSpec(name="x", steps=["/a", "/a"])


def test_no_sessions_no_flows() -> None:
    assert discover_flows(_sessions([]), min_sessions=10) == []
