"""Flow discovery from journeys, declared flows, and which sessions are in a flow at a step."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from pydantic import ValidationError

from analysis.config import FlowSpec
from analysis.evidence_sql import cluster_sql, render, run_cluster_sql
from analysis.flows import (
    Flow,
    came_from,
    declared_flows,
    discover_flows,
    flow_transitions,
    siblings,
)
from analysis.steps import events, session_steps, transition_frame
from warehouse import Warehouse

COLUMNS = ["Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind",
           "ServiceName", "ResourceAttributes", "SpanAttributes", "Duration", "StatusCode"]  # fmt: skip


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


# Two flows reach /upload: sharing (/login -> /files -> /upload -> /share) and onboarding, which
# ends there (/signup -> /invite -> /upload). Plus a flow that branches off at /files.
PATHS = [
    (["/login", "/files", "/upload", "/share"], 40),
    (["/login", "/files", "/upload"], 20),  # left before sharing: dropped
    (["/login", "/files", "/plans"], 15),  # went on to another flow at /files
    (["/login", "/files"], 10),  # left at /files
    (["/signup", "/invite", "/upload"], 30),  # onboarding done: not a sharing drop-off
    (["/upload", "/files", "/upload"], 5),  # reached /upload before coming from /files
]
FLOWS = [
    Flow("sharing", ("/login", "/files", "/upload", "/share"), "/share", declared=False),
    Flow("onboarding", ("/signup", "/invite", "/upload"), "/upload", declared=False),
    Flow("upgrade", ("/login", "/files", "/plans"), "/plans", declared=False),
]


def _step_frame(paths: list[tuple[list[str], int]]) -> pl.DataFrame:
    sessions = []
    for k, (steps, n) in enumerate(paths):
        for i in range(n):
            sessions.append({
                "session_id": f"s{k}-{i}", "steps": steps, "ts": list(range(len(steps))),
                "is_error": [False] * len(steps), "http_status": [200] * len(steps),
                "duration_ms": [100.0] * len(steps),
                "trace_ids": [f"t{k}-{i}-{j}" for j in range(len(steps))],
            })  # fmt: skip
    return session_steps(events(pl.DataFrame(sessions)))


def test_a_session_is_in_a_flow_by_the_path_it_took_to_the_step() -> None:
    assert came_from(FLOWS, "/upload", "/share") == ["/files"]
    assert came_from(FLOWS, "/files", "/upload") == ["/login"]
    assert came_from(FLOWS, "/login", "/files") == []  # the flow starts there: everyone
    assert came_from(FLOWS, "/upload", "") == []  # a step on its own: everyone
    steps = _step_frame(PATHS)
    ids = steps.select("session_id").unique()
    units = flow_transitions(FLOWS)
    tf = transition_frame(steps, ids, "/upload", "/share", siblings(units, "/upload", "/share"),
                          came_from(FLOWS, "/upload", "/share"))  # fmt: skip
    # sharing sessions only: onboarding's and the one that reached /upload first are not
    assert tf.height == 60 and int(tf["dropped"].sum()) == 20
    # at /files: those that went on to /plans are left out, those that left there dropped
    tf = transition_frame(steps, ids, "/files", "/upload", siblings(units, "/files", "/upload"),
                          came_from(FLOWS, "/files", "/upload"))  # fmt: skip
    assert tf.height == 70 and int(tf["dropped"].sum()) == 10
    # without the path, every session at the step counts (what retries are measured on)
    assert transition_frame(steps, ids, "/upload", "").height == 95


def test_evidence_sql_selects_the_same_sessions(warehouse: Warehouse) -> None:
    t0 = datetime(2026, 11, 20, 10, 0, 0)
    rows = []
    n = 0
    for k, (path, count) in enumerate(PATHS):
        for i in range(count):
            for j, route in enumerate(path):
                n += 1
                rows.append((
                    t0 + timedelta(minutes=k, seconds=10 * j + i / 100), f"{n:032x}", f"{n:016x}",
                    "", f"GET {route}", "Client", "app", {"service.name": "app"},
                    {"http.route": route, "session.id": f"s{k}-{i}",
                     "app.platform": "ios" if i % 2 else "web"}, 1_000_000, "Unset",
                ))  # fmt: skip
    warehouse.insert("otel_traces", rows, COLUMNS)
    units = flow_transitions(FLOWS)
    for step, nxt in (("/upload", "/share"), ("/files", "/upload"), ("/login", "/files")):
        sql, params = cluster_sql(warehouse, "dropoff", step, nxt, {"app.platform": "ios"},
                                  siblings(units, step, nxt), came_from(FLOWS, step, nxt))  # fmt: skip
        got = run_cluster_sql(warehouse, sql, params, t0 - timedelta(hours=1),
                              t0 + timedelta(hours=1), 30.0)  # fmt: skip
        steps = _step_frame(PATHS)
        tf = transition_frame(steps, steps.select("session_id").unique(), step, nxt,
                              siblings(units, step, nxt), came_from(FLOWS, step, nxt))  # fmt: skip
        ios = tf.filter(pl.col("session_id").str.extract(r"-(\d+)$").cast(pl.Int64) % 2 == 1)
        assert got["affected_sessions"] == ios.height, step
        assert got["value"] == pytest.approx(ios["dropped"].sum() / ios.height), step
        assert got["baseline_sessions"] == tf.height - ios.height, step
        # rendered with literals (what a cluster's evidence shows), the same numbers
        text = render(sql, {**params, "since": t0 - timedelta(hours=1),
                            "until": t0 + timedelta(hours=1), "gap_s": 1800.0})  # fmt: skip
        assert float(warehouse.rows(text)[0][0]) == pytest.approx(got["value"]), step
