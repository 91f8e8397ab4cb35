"""The friction explorer counts the sessions the friction analysis counts: its drop-off at a
step, for a cluster's segment, is the cluster's figure (same path rules, same branches)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analysis.engine import find_frictions
from analysis.store import load_clusters
from console.friction import FrictionExplorer, funnel_rows
from tests.console.demo_data import DemoData, shared_demo


@pytest.fixture(scope="module")
def demo(engine_dir: Path) -> DemoData:
    return shared_demo(engine_dir)


def test_funnel_counts_the_sessions_the_analysis_counts(demo: DemoData) -> None:
    data = FrictionExplorer(demo.settings, demo.warehouse).load(demo.since, demo.until, demo.run_id)
    found = find_frictions(data.sessions, data.attributes, demo.settings.analysis)
    attribute = data.attributes[0]
    value = str(data.sessions[attribute].drop_nulls().mode().sort()[0])
    compared = 0
    for flow in data.flows:
        everyone = funnel_rows(data, flow, {})
        segment = funnel_rows(data, flow, {attribute: value})
        for i, (step, nxt) in enumerate(flow.transitions()):
            frame = found.frames.get((step, nxt))
            if frame is None:  # too few sessions to analyse
                continue
            inside = frame.filter(pl.col(attribute) == value)
            assert (everyone[i].reached, everyone[i].dropped) == (
                frame.height,
                int(frame["dropped"].sum()),
            ), (flow.name, step)
            assert (segment[i].reached, segment[i].dropped) == (
                inside.height,
                int(inside["dropped"].sum()),
            ), (flow.name, step, value)
            compared += 1
    assert compared >= 3
    # Where a drop-off cluster exists, the explorer shows its figures.
    for cluster in load_clusters(demo.warehouse, demo.run_id):
        if cluster.kind == "dropoff" and cluster.flow in {f.name for f in data.flows}:
            flow = next(f for f in data.flows if f.name == cluster.flow)
            row = next(
                r for r in funnel_rows(data, flow, cluster.segment) if r.step == cluster.step
            )
            assert (row.reached, row.dropped) == (
                cluster.affected_sessions,
                cluster.values["dropped_sessions"],
            )


def test_funnel_goal_row_counts_sessions_that_went_on_to_the_goal(demo: DemoData) -> None:
    data = FrictionExplorer(demo.settings, demo.warehouse).load(demo.since, demo.until, demo.run_id)
    for flow in data.flows:
        rows = funnel_rows(data, flow, {})
        assert [r.step for r in rows] == [*(s for s, _ in flow.transitions()), flow.goal]
        assert rows[-1].reached == rows[-2].reached - rows[-2].dropped
