"""The ground-truth manifest: everything the simulator injected, to score detection against.

This is a public contract (the analysis and RCA scorers read it). Add fields, never rename them.

    from simulator.manifest import Manifest
    manifest = Manifest.model_validate_json(Path("out/manifest.json").read_text())
    for friction in manifest.frictions:      # what `andon run` should find as clusters
        friction.kind, friction.flow, friction.step, friction.segment, friction.metric,
        friction.value, friction.baseline, friction.affected_sessions
    for incident in manifest.incidents:      # what incident detection + RCA should find
        incident.service, incident.routes, incident.signal, incident.onset,
        incident.culprit_deployment_id, incident.pr_number, incident.innocent_deployment_ids
    manifest.ticket_themes, manifest.deployments

Conventions (the same as the data, see docs/ARCHITECTURE.md):

- ``step`` is the key analyses see: the root client span's ``http.route`` (e.g.
  ``/checkout/address``); ``step_id`` is the app description's own name for it.
- ``segment`` is ``{attribute: value}`` over root-span / resource attributes (``app.platform``,
  ``os.name``, ``app.version``, ``geo.country.iso_code`` ...); empty means everyone.
- ``value`` / ``baseline`` are the *expected* values of ``metric`` from the injected model (for
  the segment, and for sessions outside it); ``observed_value`` / ``observed_baseline`` are what
  the generated data actually contains (they differ from the expected by sampling error only).
- Drop-off and error_abandon are counted over the sessions on the friction's flow at the step
  *by their path*, not by the flow the simulator picked for them (an intent telemetry does not
  carry): sessions that reached the step after a step leading to it in a flow that goes on to
  ``next_step`` (or where such a flow starts), minus those that went on to another flow's next
  step. Where flows share the path to a step (shop ``/search``), a session that leaves there is
  the funnel's drop-off whichever flow it meant; the injected effect is stated on the funnel.
- Times are UTC (ISO 8601 with ``Z`` in JSON).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FrictionKind = Literal["dropoff", "retry", "error_abandon", "slow_step"]
FrictionMetric = Literal[
    "dropoff_rate", "attempts_per_success", "abandon_rate_after_error", "p75_ms"
]
IncidentSignal = Literal["latency", "errors", "both"]

# Which metric each friction kind is measured with (a step is a root span keyed by http.route):
#   dropoff        dropoff_rate: sessions that reached the step on the flow's path and never
#                  reached the flow's next step / sessions that reached the step on the flow's
#                  path (those that went on to another flow's next step left out)
#   retry          attempts_per_success: root spans of the step per session that eventually
#                  succeeded at it (counting only those sessions)
#   error_abandon  abandon_rate_after_error: sessions whose step had an error and that never
#                  succeeded at it afterwards nor reached the next step / sessions with the error;
#                  baseline: the same rate of leaving at that step for sessions without an error
#                  (both over the sessions on the flow's path at the step, as dropoff)
#   slow_step      p75_ms: 75th percentile of the step's root span duration in milliseconds
METRIC_OF_KIND: dict[str, str] = {
    "dropoff": "dropoff_rate",
    "retry": "attempts_per_success",
    "error_abandon": "abandon_rate_after_error",
    "slow_step": "p75_ms",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrictionTruth(_Model):
    """One injected user friction: where, for whom, how strong, how many sessions it touched."""

    id: str = Field(description="Stable id, e.g. 'friction-1-dropoff-address'.")
    kind: FrictionKind
    error_recovers: bool = Field(
        default=False, description="error_abandon only: the error goes away on reload."
    )
    flow: str = Field(description="Flow name in the app description, e.g. 'checkout'.")
    step: str = Field(description="Step key as analyses see it: the root span's http.route.")
    step_id: str = Field(description="The app description's id of the step.")
    next_step: str | None = Field(
        default=None, description="http.route of the flow's following step (None at the end)."
    )
    segment: dict[str, str] = Field(default_factory=dict)
    metric: FrictionMetric
    value: float = Field(description="Expected metric in the segment, from the injected model.")
    baseline: float = Field(description="Expected metric outside the segment (same step).")
    observed_value: float | None = Field(default=None, description="Measured in generated data.")
    observed_baseline: float | None = None
    affected_sessions: int = Field(
        default=0,
        description=(
            "Sessions in the segment that reached the step (error_abandon: hit the error); "
            "dropoff and error_abandon: on the flow's path."
        ),
    )
    baseline_sessions: int = Field(
        default=0, description="Sessions outside it that reached the step."
    )
    parameters: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="The injection parameters as declared."
    )
    description: str = ""


class GateVerdictTruth(_Model):
    """A CI gate verdict exactly as emitted in changes.jsonl."""

    gate: str
    verdict: Literal["pass", "fail", "waived"]
    pr_number: int | None = None
    commit_sha: str | None = None
    at: datetime
    environment: str
    measurements: dict[str, float] = Field(default_factory=dict)
    details: str = ""


class DeploymentTruth(_Model):
    """A deployment (as emitted in changes.jsonl) and whether it caused an incident."""

    id: str
    service: str
    version: str
    previous_version: str
    commit_sha: str
    pr_number: int
    environment: str
    started_at: datetime
    finished_at: datetime
    status: str = "success"
    culprit: bool = False
    incident_id: str | None = None


class IncidentMeasurement(_Model):
    """What production showed on the degraded routes, before vs after onset (generated data)."""

    route: str
    operation: str = Field(description="SpanName of the degraded server span.")
    p95_ms_before: float | None = None
    p95_ms_after: float | None = None
    error_rate_before: float | None = None
    error_rate_after: float | None = None
    spans_before: int = 0
    spans_after: int = 0


class IncidentTruth(_Model):
    """A bad deploy: where it degrades, since when, how much, and the change behind it."""

    id: str
    service: str = Field(description="Origin service (its server spans degrade first).")
    routes: list[str] = Field(description="http.route of the degraded server spans in `service`.")
    operations: list[str] = Field(default_factory=list, description="Their SpanNames.")
    steps: list[str] = Field(
        default_factory=list, description="Client steps (root http.route) whose calls pass there."
    )
    signal: IncidentSignal
    onset: datetime = Field(description="When the degradation starts in production.")
    deployed_at: datetime = Field(description="When the culprit deployment finished.")
    latency_factor: float = 1.0
    error_rate: float = 0.0
    magnitude: dict[str, float] = Field(default_factory=dict)
    culprit_deployment_id: str
    version: str
    previous_version: str
    pr_number: int
    commit_sha: str
    pr_files: list[str] = Field(default_factory=list)
    innocent_deployment_ids: list[str] = Field(default_factory=list)
    culprit_gate_verdicts: list[GateVerdictTruth] = Field(default_factory=list)
    production: list[IncidentMeasurement] = Field(default_factory=list)
    affected_sessions: int = 0
    description: str = ""


class TicketThemeTruth(_Model):
    """A family of support tickets saying the same thing, and which problem it reflects."""

    id: str = Field(description="Theme id, e.g. 'theme-friction-1' or 'bg-password-reset'.")
    linked_id: str | None = Field(
        default=None, description="Friction/incident id; None = background."
    )
    linked_kind: Literal["friction", "incident"] | None = None
    count: int
    ticket_ids: list[str] = Field(default_factory=list)
    with_session_id: int = Field(default=0, description="How many carry a session_id.")
    with_personal_data: int = Field(default=0, description="How many contain emails or phones.")


class Counts(_Model):
    """Volumes generated."""

    sessions: int = 0
    users: int = 0
    spans: int = 0
    logs: int = 0
    tickets: int = 0
    change_events: int = 0


class Manifest(_Model):
    """Ground truth of one simulation (manifest.json). Same app + seed + size: same manifest."""

    schema_version: int = 1
    app: str
    seed: int
    environment: str
    window_start: datetime
    window_end: datetime
    services: list[str] = Field(default_factory=list, description="Backend service.name values.")
    client_services: list[str] = Field(
        default_factory=list, description="Client service.name values."
    )
    flows: dict[str, list[str]] = Field(
        default_factory=dict, description="Flow name -> ordered step keys (http.route)."
    )
    frictions: list[FrictionTruth] = Field(default_factory=list)
    incidents: list[IncidentTruth] = Field(default_factory=list)
    ticket_themes: list[TicketThemeTruth] = Field(default_factory=list)
    deployments: list[DeploymentTruth] = Field(default_factory=list)
    counts: Counts = Field(default_factory=Counts)

    @property
    def clean(self) -> bool:
        """True when nothing was injected (a scenario where detectors should stay quiet)."""
        return not self.frictions and not self.incidents
