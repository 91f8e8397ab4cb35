"""What a ticket is: the public contract of the review queue, the exporters and the console.

A `Ticket` states a problem users have, with the measured impact, the evidence that proves it
(numbers, the SQL that reproduces them, real trace ids), linked support tickets and error groups,
a suggested scope and measurable acceptance criteria, plus where it came from (`Provenance`), what
the grounding check found (`GroundingReport`) and its review `status`. Field names are a public
contract: add fields, never rename them.

Priority is set by policy from measured impact (`ticketing.policy`), never by a model.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["P0", "P1", "P2", "P3"]
Status = Literal["proposed", "approved", "rejected", "edited", "exported"]
Comparison = Literal["<=", "<", ">=", ">"]
Writer = Literal["offline", "claude"]
FailureKind = Literal["number", "trace_id", "session_id", "ticket_id", "error_id", "pr", "id"]

STATUSES: tuple[Status, ...] = ("proposed", "approved", "rejected", "edited", "exported")
PRIORITIES: tuple[Priority, ...] = ("P0", "P1", "P2", "P3")
# States a ticket can still change in; a cluster with a ticket in one of these updates it.
OPEN_STATUSES: frozenset[str] = frozenset({"proposed", "edited", "approved", "exported"})


class Impact(BaseModel):
    """Who is affected and how much: measured figures, copied from the cluster."""

    metric: str = Field(description="What was measured, e.g. 'dropoff_rate', 'p75_ms'.")
    value: float = Field(description="The metric for the affected segment in the window.")
    baseline: float = Field(description="The same metric for everyone else (or before).")
    relative_change: float | None = Field(
        default=None, description="(value - baseline) / baseline; None when baseline is 0."
    )
    affected_sessions: int = 0
    affected_users: int = 0
    lost_conversions: float = 0.0
    segment: dict[str, str] = Field(default_factory=dict, description="attribute -> value")
    flow: str = ""
    step: str = ""
    window_days: float | None = Field(default=None, description="Length of the analysed window.")
    score: float = Field(default=0.0, description="The analysis' cross-kind impact score.")


class TicketEvidence(BaseModel):
    """One fact behind the ticket, reproducible: values, SQL, exemplar ids."""

    id: str = Field(description="Unique within the ticket, e.g. 'ev-rate'.")
    kind: str = Field(
        description="rate | comparison | segment_breakdown | exemplars | tickets | errors | latency | ..."
    )
    summary: str = ""
    values: dict[str, float | int | str] = Field(default_factory=dict)
    sql: str = Field(default="", description="Runs against the warehouse and reproduces values.")
    trace_ids: list[str] = Field(default_factory=list)
    session_ids: list[str] = Field(default_factory=list)
    ticket_ids: list[str] = Field(default_factory=list)
    error_fingerprints: list[str] = Field(default_factory=list)
    cluster_id: str = Field(default="", description="The cluster this evidence came from.")


class AcceptanceCriterion(BaseModel):
    """A measurable target the fix is checked against later, e.g. dropoff_rate <= 0.12."""

    description: str
    metric: str
    comparison: Comparison
    threshold: float
    segment: dict[str, str] = Field(default_factory=dict)
    flow: str = ""
    step: str = ""

    def met_by(self, measured: float) -> bool:
        """Whether a measured value satisfies this criterion."""
        return {
            "<=": measured <= self.threshold,
            "<": measured < self.threshold,
            ">=": measured >= self.threshold,
            ">": measured > self.threshold,
        }[self.comparison]


class Provenance(BaseModel):
    """Where a draft came from: which run, which writer and model, which prompt version."""

    run_id: str = ""
    writer: Writer = "offline"
    model: str = ""
    prompt_version: str = ""
    drafted_at: datetime | None = None
    fallback_reason: str = Field(
        default="", description="Why the model's draft was not used (API error, grounding ...)."
    )
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: list[str] = Field(default_factory=list)


class GroundingFailure(BaseModel):
    """One claim in the text that the evidence does not support."""

    field: str = Field(description="Where it was written: title, problem, scope.0 ...")
    kind: FailureKind
    token: str = Field(description="What was written.")
    reason: str


class GroundingReport(BaseModel):
    """What the grounding check found; stored with the ticket."""

    passed: bool
    checked: int = Field(default=0, description="Numbers and ids checked.")
    failures: list[GroundingFailure] = Field(default_factory=list)
    attempts: int = Field(
        default=1, description="Drafts checked (a failed model draft is retried once)."
    )
    history: list[list[GroundingFailure]] = Field(
        default_factory=list,
        description="Failures of earlier drafts that were sent back or replaced.",
    )


class ExportRecord(BaseModel):
    """Where an approved ticket was exported to (one per target)."""

    target: str = Field(description="files | github | jira | linear")
    external_id: str
    url: str = ""
    at: datetime | None = None


class TicketDraft(BaseModel):
    """The words of a ticket: what a writer (offline or a model) produces.

    Everything else (impact, evidence, priority, acceptance thresholds) is computed by code.
    """

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=8, max_length=160)
    problem: str = Field(min_length=40, max_length=4000, description="The problem statement.")
    affected: str = Field(
        min_length=10, max_length=1500, description="Who is affected and how much."
    )
    suggested_scope: list[str] = Field(min_length=1, max_length=8)
    acceptance_notes: list[str] = Field(
        default_factory=list,
        max_length=6,
        description="Plain-language notes on how to verify the fix (optional).",
    )


class Ticket(BaseModel):
    """A ticket in the review queue (current state: the latest event's snapshot)."""

    id: str
    title: str
    problem: str
    affected: str = ""
    impact: Impact
    priority: Priority
    priority_reason: str = ""
    kind: str = Field(description="The primary cluster's kind: dropoff, retry, slow_step ...")
    cluster_ids: list[str]
    evidence: list[TicketEvidence] = Field(default_factory=list)
    sample_trace_ids: list[str] = Field(default_factory=list)
    linked_support_tickets: list[str] = Field(default_factory=list)
    linked_error_groups: list[str] = Field(default_factory=list)
    suggested_scope: list[str] = Field(default_factory=list)
    acceptance_criteria: list[AcceptanceCriterion] = Field(default_factory=list)
    acceptance_notes: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)
    grounding: GroundingReport = Field(default_factory=lambda: GroundingReport(passed=True))
    status: Status = "proposed"
    status_reason: str = ""
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    exports: list[ExportRecord] = Field(default_factory=list)
    rejected_impact: int | None = Field(
        default=None,
        description="affected_sessions when the ticket was rejected (re-proposal policy).",
    )

    @property
    def grounded(self) -> bool:
        return self.grounding.passed

    def summary(self) -> dict[str, Any]:
        """The short form ``andon run --json`` lists and ``andon tickets list --json`` prints."""
        return {
            "id": self.id,
            "title": self.title,
            "priority": self.priority,
            "status": self.status,
            "kind": self.kind,
            "cluster_ids": self.cluster_ids,
            "grounded": self.grounded,
            "affected_sessions": self.impact.affected_sessions,
            "writer": self.provenance.writer,
            "version": self.version,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


EventAction = Literal[
    "proposed",
    "evidence_updated",
    "reproposed",
    "approved",
    "auto_approved",
    "rejected",
    "edited",
    "exported",
]


class TicketEvent(BaseModel):
    """One append-only change of a ticket: who, when, why, and the state after it."""

    ticket_id: str
    version: int
    at: datetime
    actor: str
    action: EventAction
    from_status: str = ""
    to_status: str
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


def ticket_id_for(cluster_id: str) -> str:
    """The deterministic ticket id of a cluster's ticket: same finding, same ticket."""
    return "TKT-" + hashlib.sha256(cluster_id.encode()).hexdigest()[:10]
