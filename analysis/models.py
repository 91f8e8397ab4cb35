"""What the friction analysis produces: clusters with their evidence (the public contract).

`andon run --json` prints clusters in this shape; the ticket agent drafts from them; the console
shows them. Field names are a public contract: add fields, never rename them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ClusterKind = Literal[
    "dropoff", "retry", "error_abandon", "slow_step", "error_group", "ticket_theme"
]


class EvidenceItem(BaseModel):
    """One fact behind a cluster: numbers, the SQL that reproduces them, and real exemplars."""

    id: str = Field(description="Stable within the cluster, e.g. 'ev-rate', 'ev-segments'.")
    kind: str = Field(
        description="rate | comparison | segment_breakdown | exemplars | tickets | errors | latency | attempts | trend"
    )
    summary: str = Field(description="One plain sentence a PM can read.")
    values: dict[str, float | int | str] = Field(default_factory=dict)
    sql: str = Field(default="", description="Runs against the warehouse and reproduces values.")
    trace_ids: list[str] = Field(default_factory=list)
    session_ids: list[str] = Field(default_factory=list)
    ticket_ids: list[str] = Field(default_factory=list)
    error_fingerprints: list[str] = Field(default_factory=list)


class SegmentShare(BaseModel):
    """How one attribute value concentrates a friction (affected vs unaffected sessions)."""

    attribute: str
    value: str
    affected_share: float
    baseline_share: float
    lift: float
    sessions: int


class Cluster(BaseModel):
    """A friction cluster: where, for whom, how much, against what baseline, and the proof."""

    id: str = Field(description="Deterministic from kind/flow/step/segment: same finding, same id.")
    kind: ClusterKind
    flow: str = ""
    step: str = ""
    segment: dict[str, str] = Field(
        default_factory=dict, description="attribute -> value; empty for everyone"
    )
    metric: str = Field(description="e.g. 'dropoff_rate', 'attempts_per_success', 'p75_ms'")
    value: float
    baseline: float
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    affected_sessions: int = 0
    affected_users: int = 0
    lost_conversions: float = 0.0
    trend: float | None = Field(
        default=None, description="Relative change of value against the previous window"
    )
    confidence: Literal["high", "medium", "low"] = "medium"
    score: float = Field(default=0.0, description="Impact score used to rank across kinds")
    title: str = Field(default="", description="One line stating the finding with its numbers")
    segments: list[SegmentShare] = Field(default_factory=list)
    evidence: list[EvidenceItem] = Field(default_factory=list)
    linked_ticket_ids: list[str] = Field(default_factory=list)
    linked_error_fingerprints: list[str] = Field(default_factory=list)
    values: dict[str, float | int | str] = Field(
        default_factory=dict,
        description="Every figure the title states, by name (what ticket grounding checks against)",
    )
    sql: str = Field(default="", description="Reproduces value, baseline and affected_sessions")
    exemplar_trace_ids: list[str] = Field(default_factory=list, description="Real trace ids")
    linked_theme_ids: list[str] = Field(default_factory=list)
    next_step: str = Field(default="", description="The flow's step after `step` ('' at the goal)")
    goal: str = Field(default="", description="The flow's goal step")
    segment_implies: dict[str, str] = Field(
        default_factory=dict,
        description="Other attribute values every session of the segment has (same sessions)",
    )
    window_start: datetime | None = None
    window_end: datetime | None = None


class TicketTheme(BaseModel):
    """A family of support tickets saying the same thing (scikit-learn text clustering)."""

    id: str = Field(description="Deterministic from the theme's top terms.")
    label: str = Field(description="Readable label: the top terms.")
    top_terms: list[str] = Field(default_factory=list)
    representative_ticket_id: str = ""
    representative_text: str = ""
    tickets: int = 0
    ticket_ids: list[str] = Field(default_factory=list)
    session_ids: list[str] = Field(default_factory=list)
    user_ids: list[str] = Field(default_factory=list)
    previous_tickets: int = 0
    trend: float | None = Field(
        default=None, description="Relative change against the previous window"
    )
    linked_cluster_ids: list[str] = Field(default_factory=list)
