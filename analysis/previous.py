"""Everyone-level friction against the previous window of the same length.

A friction that hits every session has no segment to compare with; what shows it is change:
more sessions leaving a step than in the previous window, or the step getting slower. These
candidates join the run's pool (and its false-discovery control) like every other test.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analysis.friction import Candidate
from analysis.segments import share
from analysis.stats import mann_whitney_greater, two_proportion_greater
from analysis.steps import events, session_steps, transition_frame

MAX_LATENCY_SAMPLE = 20_000


def previous_window_candidates(
    previous: pl.DataFrame,
    frames: dict[tuple[str, str], pl.DataFrame],
    current_events: pl.DataFrame,
    units: list[tuple[str, str, str, str]],
    branches: dict[tuple[str, str], list[str]],
    min_n: int,
    came_from: dict[tuple[str, str], list[str]] | None = None,
    *,
    rate_margin: float = 0.0,
    relative_margin: float = 0.0,
) -> list[Candidate]:
    """Drop-off and p75 latency of each flow step for everyone, now against the previous window.

    ``previous`` is the previous window's session frame; ``frames`` the current transition
    frames, whose populations ``branches`` and ``came_from`` give per transition; the drop-off
    test uses sessions without an error at the step (as the segment test). As the segment
    tests, they test for more than the smallest effect worth reporting: ``rate_margin`` more
    drop-off, latencies more than ``1 + relative_margin`` times the previous window's.
    """
    if previous.height == 0:
        return []
    prev_ev = events(previous)
    prev_steps = session_steps(prev_ev)
    ids = previous.select("session_id")
    out: list[Candidate] = []
    for step, next_step, flow, goal in units:
        now = frames.get((step, next_step))
        if now is None or not next_step:
            continue
        before = transition_frame(prev_steps, ids, step, next_step, branches.get((step, next_step)),
                                  (came_from or {}).get((step, next_step)))  # fmt: skip
        a = now.filter(~pl.col("had_error"))
        b = before.filter(~pl.col("had_error"))
        if a.height < min_n or b.height < min_n:
            continue
        x1, n1, x2, n2 = int(a["dropped"].sum()), a.height, int(b["dropped"].sum()), b.height
        p = float(two_proportion_greater(np.array([x1]), np.array([n1]), np.array([x2]),
                                         np.array([n2]), rate_margin)[0])  # fmt: skip
        value, baseline = share(now["dropped"]), share(before["dropped"])
        out.append(
            Candidate("dropoff", flow, step, next_step, goal, {}, "dropoff_rate", value, baseline,
                      now.height, before.height, x1 / n1 - x2 / n2, p,
                      extra={"previous_window": 1.0})
        )  # fmt: skip
    rng = np.random.default_rng(0)
    seen: set[str] = set()
    for step, next_step, flow, goal in units:
        if step in seen:
            continue
        seen.add(step)
        d_now = current_events.filter(pl.col("step") == step)["duration_ms"].to_numpy()
        d_prev = prev_ev.filter(pl.col("step") == step)["duration_ms"].to_numpy()
        if d_now.size < min_n or d_prev.size < min_n:
            continue
        q_now, q_prev = float(np.quantile(d_now, 0.75)), float(np.quantile(d_prev, 0.75))
        if q_prev <= 0:
            continue
        a_s = (
            rng.choice(d_now, MAX_LATENCY_SAMPLE, replace=False)
            if d_now.size > MAX_LATENCY_SAMPLE
            else d_now
        )
        b_s = (
            rng.choice(d_prev, MAX_LATENCY_SAMPLE, replace=False)
            if d_prev.size > MAX_LATENCY_SAMPLE
            else d_prev
        )
        out.append(
            Candidate("slow_step", flow, step, next_step, goal, {}, "p75_ms", q_now, q_prev,
                      d_now.size, d_prev.size, q_now / q_prev - 1,
                      mann_whitney_greater(a_s / (1 + relative_margin), b_s),
                      extra={"previous_window": 1.0})
        )  # fmt: skip
    return out
