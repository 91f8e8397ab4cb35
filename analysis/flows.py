"""Flows: declared in settings, or discovered from the sessions' step sequences.

Discovery builds a prefix tree of each session's journey (its distinct steps in the order it
first reached them) and keeps the paths that enough sessions walk: every maximal such path is a
flow, and its last step is the flow's goal. Nothing about any one app is assumed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import polars as pl

from analysis.config import FlowSpec

MAX_DEPTH = 16
DISCOVERY_SAMPLE = 100_000


@dataclass(frozen=True)
class Flow:
    """Ordered steps with a goal; ``declared`` tells where it came from."""

    name: str
    steps: tuple[str, ...]
    goal: str
    declared: bool
    sessions: int = 0  # sessions that reached the first step

    def transitions(self) -> list[tuple[str, str]]:
        """(step, next step) pairs, up to the goal."""
        end = self.steps.index(self.goal)
        return list(zip(self.steps[:end], self.steps[1 : end + 1], strict=True))


def declared_flows(specs: list[FlowSpec]) -> list[Flow]:
    """Flows from settings, as they are."""
    return [Flow(s.name, tuple(s.steps), s.goal_step, declared=True) for s in specs]


def journeys(sessions: pl.DataFrame) -> pl.Series:
    """Each session's distinct steps in first-reached order (at most `MAX_DEPTH`)."""
    return sessions.select(
        pl.col("steps").list.unique(maintain_order=True).list.head(MAX_DEPTH)
    ).to_series()


def discover_flows(
    sessions: pl.DataFrame, min_sessions: int, min_share: float = 0.02
) -> list[Flow]:
    """The common journeys: maximal prefix-tree paths walked by enough sessions.

    A path is kept while at least ``max(min_sessions, min_share * sessions)`` sessions follow it;
    each maximal kept path (length >= 2) is a flow whose goal is its last step. Flows are named
    after their goal, the most walked first.
    """
    if sessions.height == 0:
        return []
    total = sessions.height
    if total > DISCOVERY_SAMPLE:
        # Common journeys show in a sample; thresholds scale with it (same seed, same flows).
        sessions = sessions.sample(DISCOVERY_SAMPLE, seed=0)
    scale = sessions.height / total
    threshold = max(min_sessions * scale, min_share * sessions.height)
    counts: Counter[tuple[str, ...]] = Counter()
    for journey in journeys(sessions).to_list():
        for depth in range(1, len(journey) + 1):
            counts[tuple(journey[:depth])] += 1
    kept = {path: n for path, n in counts.items() if n >= threshold}
    has_child = {path[:-1] for path in kept if len(path) > 1}
    leaves = sorted(
        (p for p in kept if p not in has_child and len(p) >= 2),
        key=lambda p: (-kept[p[:1]], -len(p), p),
    )
    flows: list[Flow] = []
    names: Counter[str] = Counter()
    for path in leaves:
        base = f"to {path[-1]}"
        names[base] += 1
        name = base if names[base] == 1 else f"{base} ({names[base]})"
        walked = round(kept[path[:1]] / scale)
        flows.append(Flow(name, path, path[-1], declared=False, sessions=walked))
    return flows


def flow_transitions(flows: list[Flow]) -> list[tuple[str, str, str, str]]:
    """Distinct (step, next_step, flow name, goal) over all flows; the first flow naming a
    transition owns it, so a step shared by two discovered paths is analysed once."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str, str, str]] = []
    for flow in flows:
        for step, nxt in flow.transitions():
            if (step, nxt) not in seen:
                seen.add((step, nxt))
                out.append((step, nxt, flow.name, flow.goal))
    return out


def siblings(units: list[tuple[str, str, str, str]], step: str, next_step: str) -> list[str]:
    """Other next steps of ``step`` in the flows: where sessions branch off to another flow.

    Empty for a step on its own (``next_step`` empty): every session that reached it counts.
    """
    if not next_step:
        return []
    return sorted({u[1] for u in units if u[0] == step and u[1] != next_step})


def came_from(flows: list[Flow], step: str, next_step: str) -> list[str]:
    """The steps that lead to ``step`` in the flows going on from ``step`` to ``next_step``.

    A session is on such a flow at ``step`` when it reached one of them before it first reached
    ``step``: the path it took says which flow it follows (at ``/files/upload``, a session that
    came from the dashboard is sharing a file, one that came from the team invite is finishing
    its onboarding). Empty, meaning every session at the step, when one of those flows starts at
    ``step`` or when ``next_step`` is empty (a step on its own).
    """
    if not next_step:
        return []
    before: set[str] = set()
    for flow in flows:
        for i, (a, b) in enumerate(flow.transitions()):
            if a == step and b == next_step:
                if i == 0:
                    return []
                before.add(flow.steps[i - 1])
    return sorted(before)
