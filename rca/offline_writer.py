"""The deterministic brief writer: the words of a brief from the incident's evidence alone.

It is the default (no key, no network) and the fallback when a model's brief fails grounding.
Every figure it writes is taken from the incident as code computed it.
"""

from __future__ import annotations

from rca.engine import describe_value
from rca.gates import fmt_ms
from rca.models import BriefText, Incident

WRITER = "offline"


def _origin_sentence(incident: Incident) -> str:
    o = incident.origin
    if o is None:
        return (
            "The origin could not be localized (no traces before and after the onset to compare)."
        )
    if o.kind == "errors":
        change = f"its own errors rose from {o.before:.3f} to {o.after:.3f} per request"
    else:
        change = f"its own time rose from {fmt_ms(o.before)} to {fmt_ms(o.after)} per request"
    return (
        f"The degradation originates in {o.service} ({o.operation}): {change}, "
        f"{o.share:.0%} of the total change across the trace tree."
    )


def _suspect_sentence(incident: Incident) -> str:
    if not incident.suspects:
        return (
            "No deployment of the origin service or its neighbours happened in the lookback window."
        )
    top = incident.suspects[0]
    pr = (
        f" (PR #{top.pr_number}{': ' + top.pr_title if top.pr_title else ''})"
        if top.pr_number
        else ""
    )
    strongest = max(top.factors, key=lambda f: f.contribution, default=None)
    why = (
        f" Strongest evidence: {strongest.evidence}."
        if strongest and strongest.contribution > 0
        else ""
    )
    runner = ""
    if len(incident.suspects) > 1:
        second = incident.suspects[1]
        runner = (
            f" Next: {second.deployment_id} ({second.service} {second.version}) scored "
            f"{second.score:.2f} against {top.score:.2f}."
        )
    return (
        f"Most likely cause: deployment {top.deployment_id} of {top.service} {top.version}{pr}, "
        f"score {top.score:.2f}.{why}{runner}"
    )


def write(incident: Incident) -> BriefText:
    """The offline brief text of an incident."""
    lead = next(
        (
            d
            for d in incident.degradations
            if (d.service, d.route) == (incident.service, incident.route)
        ),
        incident.degradations[0] if incident.degradations else None,
    )
    where = f"{incident.service} {incident.route}".strip()
    if lead is not None and lead.signal == "declared":
        by = f" by {incident.declared_by}" if incident.declared_by else ""
        degraded = (
            f"an incident was declared{by} on {where}; its p95 latency went from "
            f"{describe_value('latency_p95', lead.baseline)} to {describe_value('latency_p95', lead.value)}"
        )
    elif lead is not None and lead.signal != "new_error":
        what = {
            "latency_p95": "p95 latency",
            "error_rate": "error rate",
            "throughput": "throughput",
        }[lead.signal]
        degraded = (
            f"{what} of {where} went from {describe_value(lead.signal, lead.baseline)} "
            f"({lead.baseline_kind} baseline) to {describe_value(lead.signal, lead.value)}"
        )
    elif lead is not None:
        degraded = f"a new error appeared on {where} ({lead.requests} events)"
    else:
        degraded = f"an SRE declared an incident on {where}"
    seen = {(lead.service, lead.route)} if lead is not None else set()
    others = []
    for d in incident.degradations:
        if (d.service, d.route) not in seen:
            seen.add((d.service, d.route))
            others.append(d)
    also = (
        f" {len(others)} related route(s) degraded with it: "
        + ", ".join(f"{d.service} {d.route}" for d in others[:5])
        + "."
        if others
        else ""
    )
    summary = (
        f"Since {incident.onset:%Y-%m-%d %H:%M} UTC, {degraded}. "
        f"{incident.affected_users} users and {incident.affected_sessions} sessions were affected "
        f"(severity {incident.severity}).{also}"
    )
    hypothesis = f"{_origin_sentence(incident)} {_suspect_sentence(incident)}"
    top_id = incident.suspects[0].deployment_id if incident.suspects else ""
    mine = [g for g in incident.gate_findings if g.deployment_id == top_id]
    gate_lines = [f"{g.discrepancy}." for g in mine if g.discrepancy]
    gate_lines += [
        f"The {g.gate} gate ({g.verdict}) did not cover: {'; '.join(g.not_covered)}."
        if g.verdict != "missing"
        else f"{'; '.join(g.not_covered).capitalize()}."
        for g in mine
        if g.not_covered
    ]
    passed = [f"{g.gate} ({g.verdict})" for g in mine if g.verdict != "missing"]
    if passed:
        gate_lines.insert(0, f"Gates recorded for {top_id}: {', '.join(passed)}.")
    gate_analysis = (
        " ".join(gate_lines)
        if gate_lines
        else "No gate verdicts were recorded for the top suspect."
    )
    steps: list[str] = []
    if incident.suspects:
        top = incident.suspects[0]
        steps.append(
            f"Roll back {top.service} to the version before {top.version} (deployment {top.deployment_id}) "
            "and watch the degraded metric recover."
        )
    if incident.origin:
        steps.append(
            f"Inspect {incident.origin.service} {incident.origin.operation} in the sample traces."
        )
    steps += list(dict.fromkeys(g.recommendation for g in mine if g.recommendation))[:3]
    for past in incident.similar[:1]:
        if past.resolution:
            steps.append(f"A similar incident ({past.id}) was resolved by: {past.resolution}")
    return BriefText(
        summary=summary, hypothesis=hypothesis, gate_analysis=gate_analysis, next_steps=steps
    )
