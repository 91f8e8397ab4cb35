"""The incident contract: what detection finds, what the RCA gathers, what a brief is made of.

`Incident` is what `andon run --json` lists (``id``, ``service``, ``route``, ``signal``,
``onset``, ``origin``, ``suspects``) and what the console and CLI read back from the warehouse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Signal = Literal["latency_p95", "error_rate", "throughput", "new_error", "declared"]
IncidentStatus = Literal["open", "resolved"]


class Origin(BaseModel):
    """Where the degradation starts: the service and operation whose own behaviour changed."""

    service: str
    operation: str
    kind: Literal["latency", "errors", "unknown"] = "unknown"
    before: float = Field(
        default=0.0, description="Self-time ms per trace, or own errors per trace, before onset."
    )
    after: float = Field(default=0.0, description="The same after onset.")
    share: float = Field(
        default=0.0, description="Share of the total change this operation explains."
    )
    candidates: list[OriginCandidate] = Field(default_factory=list)


class OriginCandidate(BaseModel):
    """One operation's change across the onset (the ranking behind `Origin`)."""

    service: str
    operation: str
    before: float
    after: float
    delta: float
    share: float


class Degradation(BaseModel):
    """One degraded series: a service's entry operation on one signal, with its anomalous run."""

    service: str
    route: str
    operation: str = Field(default="", description="SpanName of the entry spans (method + route).")
    signal: Signal
    onset: datetime
    detected_at: datetime
    ended_at: datetime | None = Field(default=None, description="End of the anomalous run.")
    baseline: float
    value: float = Field(description="Median of the signal over the anomalous run.")
    unit: str = ""
    requests: int = 0
    affected_users: int = 0
    affected_sessions: int = 0
    baseline_kind: Literal["seasonal", "trailing", "declared"] = "trailing"
    window_minutes: int = Field(default=1, description="Minutes pooled per judged window.")
    fingerprint: str = ""


class Factor(BaseModel):
    """One explicit scoring factor of a suspect, with the evidence behind its value."""

    name: Literal["version_split", "service_match", "time_to_onset", "code_paths", "new_errors"]
    value: float = Field(description="-1 (exonerates) .. 1 (implicates)")
    weight: float
    contribution: float
    evidence: str
    values: dict[str, float | int | str] = Field(default_factory=dict)


class Suspect(BaseModel):
    """A candidate deployment, scored from explicit factors."""

    deployment_id: str
    service: str
    version: str
    commit_sha: str = ""
    environment: str = ""
    started_at: datetime
    pr_number: int | None = None
    pr_title: str = ""
    pr_url: str = ""
    pr_author: str = ""
    pr_files: list[str] = Field(default_factory=list)
    score: float
    rank: int = 0
    factors: list[Factor] = Field(default_factory=list)


class GateFinding(BaseModel):
    """A gate verdict recorded for a suspect's PR or commit, read against production."""

    deployment_id: str
    pr_number: int | None = None
    gate: str
    verdict: str
    at: datetime | None = None
    environment: str = ""
    measurements: dict[str, float] = Field(default_factory=dict)
    details: str = ""
    measured_degraded_metric: bool = False
    discrepancy: str = ""
    not_covered: list[str] = Field(default_factory=list)
    recommendation: str = ""


class SimilarIncident(BaseModel):
    """A past incident that looks like this one, and how it was resolved."""

    id: str
    service: str
    route: str
    signal: str
    onset: datetime
    status: str
    similarity: float
    reasons: list[str] = Field(default_factory=list)
    resolution: str = ""
    culprit: str = ""


class SeriesPoint(BaseModel):
    """One minute of the degraded metric (for the brief's chart)."""

    minute: datetime
    value: float | None


class Incident(BaseModel):
    """One incident: a group of degradations with one onset and one origin, and its RCA."""

    id: str
    service: str
    route: str
    signal: Signal
    onset: datetime
    origin: Origin | None = None
    suspects: list[Suspect] = Field(default_factory=list)
    status: IncidentStatus = "open"
    source: Literal["detected", "declared"] = "detected"
    severity: Literal["critical", "high", "medium", "low"] = "medium"
    title: str = ""
    detected_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    degradations: list[Degradation] = Field(default_factory=list)
    affected_users: int = 0
    affected_sessions: int = 0
    requests: int = 0
    gate_findings: list[GateFinding] = Field(default_factory=list)
    similar: list[SimilarIncident] = Field(default_factory=list)
    new_fingerprints: list[str] = Field(default_factory=list)
    series: list[SeriesPoint] = Field(default_factory=list)
    series_unit: str = ""
    sample_trace_ids: list[str] = Field(default_factory=list)
    declared_by: str = ""
    resolution: str = ""
    resolved_by: str = ""
    resolved_at: datetime | None = None
    version: int = 0

    def contract(self) -> dict[str, object]:
        """The public fields of `andon run --json` (and a few more)."""
        return {
            "id": self.id,
            "service": self.service,
            "route": self.route,
            "signal": self.signal,
            "onset": self.onset.isoformat(),
            "origin": (
                {"service": self.origin.service, "operation": self.origin.operation}
                if self.origin
                else None
            ),
            "suspects": [
                {
                    "deployment_id": s.deployment_id,
                    "service": s.service,
                    "version": s.version,
                    "pr_number": s.pr_number,
                    "score": round(s.score, 4),
                }
                for s in self.suspects
            ],
            "status": self.status,
            "severity": self.severity,
            "source": self.source,
            "title": self.title,
            "affected_users": self.affected_users,
            "affected_sessions": self.affected_sessions,
        }


class IncidentEvent(BaseModel):
    """One append-only change of an incident (detected, updated, declared, resolved...)."""

    incident_id: str
    version: int
    at: datetime
    kind: str
    actor: str = ""
    note: str = ""


class BriefText(BaseModel):
    """The words of a brief (what a writer produces); every fact in it comes from the evidence."""

    summary: str
    hypothesis: str
    gate_analysis: str = ""
    next_steps: list[str] = Field(default_factory=list)


class Brief(BaseModel):
    """A written brief for one incident version."""

    incident_id: str
    version: int
    written_at: datetime
    writer: str
    grounded: bool
    grounding_issues: list[str] = Field(default_factory=list)
    text: BriefText


Origin.model_rebuild()
