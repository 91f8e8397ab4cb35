"""Assemble the ground-truth manifest from what the generator, the changes and the tickets recorded."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import numpy as np

from simulator.changes import ChangeBuilder
from simulator.generator import Generator
from simulator.ground_truth import FrictionStats, IncidentStats
from simulator.manifest import (
    METRIC_OF_KIND,
    Counts,
    DeploymentTruth,
    FrictionTruth,
    GateVerdictTruth,
    IncidentMeasurement,
    IncidentTruth,
    Manifest,
    TicketThemeTruth,
)
from simulator.spec import ErrorAbandonProblem
from simulator.tickets import Ticket


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 6) if den > 0 else None


def _p(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def friction_truth(stats: FrictionStats, app_steps: dict[str, str]) -> FrictionTruth:
    """The manifest entry of one friction: expected and observed metric, in and out of segment."""
    p = stats.problem
    if p.kind == "slow_step":
        value, baseline = _p(stats.shadow[0], 75), _p(stats.shadow[1], 75)
        observed, observed_baseline = _p(stats.durations[0], 75), _p(stats.durations[1], 75)
    else:
        value, baseline = (
            _ratio(stats.exp_num[0], stats.exp_den[0]),
            _ratio(stats.exp_num[1], stats.exp_den[1]),
        )
        observed = _ratio(stats.obs_num[0], stats.obs_den[0])
        observed_baseline = _ratio(stats.obs_num[1], stats.obs_den[1])
    parameters = p.model_dump(exclude={"kind", "flow", "step", "segment"}, exclude_none=True)
    return FrictionTruth(
        id=stats.id,
        kind=p.kind,
        error_recovers=isinstance(p, ErrorAbandonProblem) and p.recovers,
        flow=p.flow,
        step=stats.route,
        step_id=p.step,
        next_step=stats.next_route,
        segment=dict(p.segment),
        metric=METRIC_OF_KIND[p.kind],  # type: ignore[arg-type]
        value=value if value is not None else 0.0,
        baseline=baseline if baseline is not None else 0.0,
        observed_value=observed,
        observed_baseline=observed_baseline,
        affected_sessions=stats.sessions[0],
        baseline_sessions=stats.sessions[1],
        parameters=parameters,
        description=_describe(stats, app_steps),
    )


def _describe(stats: FrictionStats, app_steps: dict[str, str]) -> str:
    p = stats.problem
    who = ", ".join(f"{k}={v}" for k, v in p.segment.items()) or "everyone"
    where = f"{p.flow} / {app_steps.get(p.step, p.step)}"
    if p.kind == "dropoff":
        return f"{getattr(p, 'rate', 0):.0%} of {who} leave {where} after the step"
    if p.kind == "retry":
        return (
            f"attempts at {where} fail with p={getattr(p, 'fail_prob', 0)} for {who}; users retry"
        )
    if p.kind == "error_abandon":
        recovers = " (resolves on reload)" if getattr(p, "recovers", False) else ""
        return (
            f"{where} errors for {who} with p={getattr(p, 'error_rate', 0)}{recovers}; "
            f"{getattr(p, 'abandon_rate', 0):.0%} abandon after it"
        )
    return f"{where} is {getattr(p, 'factor', 1)}x slower for {who}"


def incident_truth(stats: IncidentStats, gen: Generator, changes: ChangeBuilder) -> IncidentTruth:
    """The manifest entry of one incident: origin, onset, magnitude, culprit and the evidence."""
    inc = stats.incident
    deploy = inc.deploy
    spec = inc.spec
    production = []
    for name in inc.operations:
        before, after = stats.durations.get(name, ([], []))
        errors = stats.errors.get(name, [0, 0])
        route = name.split(" ", 1)[1]
        production.append(
            IncidentMeasurement(
                route=route,
                operation=name,
                p95_ms_before=_p(before, 95),
                p95_ms_after=_p(after, 95),
                error_rate_before=_ratio(errors[0], len(before)),
                error_rate_after=_ratio(errors[1], len(after)),
                spans_before=len(before),
                spans_after=len(after),
            )
        )
    latency = spec.latency_factor if spec.signal in ("latency", "both") else 1.0
    error_rate = spec.error_rate if spec.signal in ("errors", "both") else 0.0
    innocent = [d.id for d in gen.timeline.deploys if not d.culprit]
    steps = gen.app.steps_calling(deploy.service, inc.routes)
    return IncidentTruth(
        id=inc.id,
        service=deploy.service,
        routes=inc.routes,
        operations=inc.operations,
        steps=[gen.app.steps[s].route for s in steps],
        signal=spec.signal,
        onset=inc.onset,
        deployed_at=deploy.finished_at,
        latency_factor=latency,
        error_rate=error_rate,
        magnitude={"latency_factor": latency, "error_rate": error_rate},
        culprit_deployment_id=deploy.id,
        version=deploy.version,
        previous_version=deploy.previous_version,
        pr_number=deploy.pr_number,
        commit_sha=deploy.commit_sha,
        pr_files=changes.files.get(deploy.id, []),
        innocent_deployment_ids=innocent,
        culprit_gate_verdicts=[
            GateVerdictTruth(
                gate=v["gate"],
                verdict=v["verdict"],
                pr_number=v.get("pr_number"),
                commit_sha=v.get("commit_sha"),
                at=_parse(v["at"]),
                environment=v["environment"],
                measurements=v["measurements"],
                details=v["details"],
            )
            for v in changes.verdicts.get(deploy.id, [])
        ],
        production=production,
        affected_sessions=stats.affected_sessions,
        description=(
            f"{deploy.service} {deploy.version} ({deploy.id}, PR #{deploy.pr_number}) degrades "
            f"{', '.join(inc.operations)} from {inc.onset:%H:%M} UTC: latency x{latency}, "
            f"errors {error_rate:.0%}"
        ),
    )


def build_manifest(
    gen: Generator,
    changes: ChangeBuilder,
    change_events: list[dict[str, object]],
    tickets: list[Ticket],
    counts: Counts,
) -> Manifest:
    """The whole manifest of one simulation."""
    step_labels = {k: v.route for k, v in gen.app.steps.items()}
    deployments = []
    for event in change_events:
        if event.get("type") != "deployment":
            continue
        planned = next(d for d in gen.timeline.deploys if str(event["id"]).startswith(d.id))
        production = event["environment"] == gen.app.environment
        deployments.append(
            DeploymentTruth(
                id=str(event["id"]),
                service=planned.service,
                version=planned.version,
                previous_version=planned.previous_version,
                commit_sha=planned.commit_sha,
                pr_number=planned.pr_number,
                environment=str(event["environment"]),
                started_at=_parse(str(event["started_at"])),
                finished_at=_parse(str(event["finished_at"])),
                culprit=planned.culprit and production,
                incident_id=planned.incident_id if production else None,
            )
        )
    themes: dict[str, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        themes[ticket.theme].append(ticket)
    friction_ids = {s.id for s in gen.frictions}
    incident_ids = {s.incident.id for s in gen.incidents}
    ticket_themes = []
    for theme in sorted(themes):
        linked = theme.removeprefix("theme-") if theme.startswith("theme-") else None
        kind = (
            "friction" if linked in friction_ids else "incident" if linked in incident_ids else None
        )
        members = themes[theme]
        ticket_themes.append(
            TicketThemeTruth(
                id=theme,
                linked_id=linked,
                linked_kind=kind,  # type: ignore[arg-type]
                count=len(members),
                ticket_ids=[t.id for t in members],
                with_session_id=sum(1 for t in members if t.session_id),
                with_personal_data=sum(1 for t in members if t.personal_data),
            )
        )
    return Manifest(
        app=gen.app.name,
        seed=gen.seed,
        environment=gen.app.environment,
        window_start=gen.start,
        window_end=gen.end,
        services=[s.name for s in gen.app.services],
        client_services=sorted({c.service for c in gen.app.clients}),
        flows={f.name: [gen.app.steps[s].route for s in f.steps] for f in gen.app.flows},
        frictions=[friction_truth(s, step_labels) for s in gen.frictions],
        incidents=[incident_truth(s, gen, changes) for s in gen.incidents],
        ticket_themes=ticket_themes,
        deployments=deployments,
        counts=counts,
    )
