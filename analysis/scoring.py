"""Score clusters against a simulator ground-truth manifest (benchmarks and tests).

A truth friction is *found* by a cluster of the same kind at the same step whose segment is the
truth's (its attributes, or attributes implying the same sessions) and whose affected sessions
are within 10% of the truth's (a narrower or wider segment is not the same finding). Its
*effect* is within tolerance when the value is within 3 points of the truth (rates) or 10%
(latencies, attempts). Other clusters are *unexpected*, except those an injected incident
explains (its steps, its routes, or a ticket theme linked to a found cluster).

The manifest is read by attribute (``frictions``, ``incidents``), so this module does not import
the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analysis.models import Cluster

FRICTION_KINDS = ("dropoff", "retry", "error_abandon", "slow_step")
RATE_TOLERANCE = 0.03
RELATIVE_TOLERANCE = 0.10


@dataclass
class Match:
    """One truth friction and the cluster that found it (if any)."""

    truth_id: str
    kind: str
    step: str
    segment: dict[str, str]
    truth_value: float
    cluster_id: str | None = None
    value: float | None = None
    error: float | None = None  # absolute (rates) or relative (latency, attempts)
    within_tolerance: bool = False


@dataclass
class Score:
    """The outcome for one scenario."""

    matches: list[Match] = field(default_factory=list)
    unexpected: list[Cluster] = field(default_factory=list)
    explained: list[Cluster] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(1 for m in self.matches if m.cluster_id)

    @property
    def within(self) -> int:
        return sum(1 for m in self.matches if m.within_tolerance)

    @property
    def ok(self) -> bool:
        return (
            self.found == len(self.matches)
            and self.within == len(self.matches)
            and len(self.unexpected) <= 1
        )


def _relative(kind: str) -> bool:
    return kind in ("retry", "slow_step")


def matches_truth(cluster: Cluster, truth: Any) -> bool:
    """Same kind, step and sessions as the injected friction."""
    if cluster.kind != truth.kind or cluster.step != truth.step:
        return False
    described = {**cluster.segment_implies, **cluster.segment}
    if any(described.get(k) != v for k, v in truth.segment.items()):
        return False
    if not truth.segment and cluster.segment:
        return False
    expected = truth.affected_sessions
    return not expected or abs(cluster.affected_sessions - expected) <= max(0.1 * expected, 3)


def score(clusters: list[Cluster], manifest: Any) -> Score:
    """Match clusters to the manifest's frictions; sort the rest into explained / unexpected."""
    result = Score()
    used: set[str] = set()
    for truth in manifest.frictions:
        observed = truth.observed_value if truth.observed_value is not None else truth.value
        m = Match(truth.id, truth.kind, truth.step, dict(truth.segment), observed)
        for c in clusters:
            if c.id not in used and matches_truth(c, truth):
                used.add(c.id)
                m.cluster_id, m.value = c.id, c.value
                if _relative(truth.kind):
                    m.error = abs(c.value - observed) / observed if observed else abs(c.value)
                    m.within_tolerance = m.error <= RELATIVE_TOLERANCE
                else:
                    m.error = abs(c.value - observed)
                    m.within_tolerance = m.error <= RATE_TOLERANCE
                break
        result.matches.append(m)
    incident_steps = {s for i in manifest.incidents for s in i.steps}
    incident_routes = {r for i in manifest.incidents for r in i.routes}
    incident_services = {i.service for i in manifest.incidents}
    for c in clusters:
        if c.id in used:
            continue
        by_incident = (c.kind in FRICTION_KINDS and c.step in incident_steps) or (
            c.kind == "error_group"
            and (c.step in incident_routes or any(s in c.title for s in incident_services))
        )
        if by_incident:
            result.explained.append(c)
        elif c.kind == "ticket_theme":
            # A theme is a finding only with the friction it matches; alone it is unexpected.
            linked_to_finding = any(
                cid in used or cid in {e.id for e in result.explained}
                for cid in _theme_links(c, clusters)
            )
            (result.explained if linked_to_finding else result.unexpected).append(c)
        else:
            result.unexpected.append(c)
    return result


def _theme_links(theme_cluster: Cluster, clusters: list[Cluster]) -> list[str]:
    theme_ids = set(theme_cluster.linked_theme_ids)
    return [
        c.id for c in clusters if theme_ids & set(c.linked_theme_ids) and c is not theme_cluster
    ]
