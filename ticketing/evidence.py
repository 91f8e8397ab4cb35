"""From a friction cluster to a ticket's facts: impact, evidence, acceptance criteria.

Everything here is computed by code from `analysis.models.Cluster`; writers (offline or model)
only add words, and the grounding check holds those words to these facts. Pure: no I/O.
"""

from __future__ import annotations

from analysis.models import Cluster
from ticketing.figures import (
    flow_phrase,
    metric_name,
    metric_value,
    relative_change,
    segment_phrase,
    threshold_for,
)
from ticketing.models import AcceptanceCriterion, Impact, TicketEvidence


def cluster_values(cluster: Cluster) -> dict[str, float | int | str]:
    """The figures the cluster's title states (``Cluster.values``; empty on older clusters)."""
    return dict(getattr(cluster, "values", None) or {})


def cluster_sql(cluster: Cluster) -> str:
    """The SQL reproducing value, baseline and affected sessions (``Cluster.sql``)."""
    return str(getattr(cluster, "sql", "") or "")


def exemplar_traces(cluster: Cluster) -> list[str]:
    """The cluster's own exemplar trace ids (``Cluster.exemplar_trace_ids``)."""
    return list(getattr(cluster, "exemplar_trace_ids", None) or [])


def impact_of(cluster: Cluster, window_days: float | None = None) -> Impact:
    """The measured impact of a cluster."""
    return Impact(
        metric=cluster.metric,
        value=cluster.value,
        baseline=cluster.baseline,
        relative_change=relative_change(cluster.value, cluster.baseline),
        affected_sessions=cluster.affected_sessions,
        affected_users=cluster.affected_users,
        lost_conversions=round(cluster.lost_conversions, 2),
        segment=dict(cluster.segment),
        flow=cluster.flow,
        step=cluster.step,
        window_days=window_days,
        score=cluster.score,
    )


def evidence_of(cluster: Cluster, max_traces: int) -> list[TicketEvidence]:
    """The cluster's own summary figures first (``ev-impact``), then its evidence items."""
    summary_values: dict[str, float | int | str] = {
        "metric": cluster.metric,
        "value": cluster.value,
        "baseline": cluster.baseline,
        "affected_sessions": cluster.affected_sessions,
        "affected_users": cluster.affected_users,
        "lost_conversions": round(cluster.lost_conversions, 2),
    }
    for name in ("ci_low", "ci_high", "p_value", "q_value", "trend"):
        value = getattr(cluster, name)
        if value is not None:
            summary_values[name] = value
    for key, value in cluster_values(cluster).items():
        summary_values.setdefault(key, value)
    items = [
        TicketEvidence(
            id="ev-impact",
            kind="comparison",
            summary=cluster.title
            or (
                f"{metric_name(cluster.metric)} is {metric_value(cluster.metric, cluster.value)} "
                f"for {segment_phrase(cluster.segment)} against "
                f"{metric_value(cluster.metric, cluster.baseline)} for the baseline"
            ),
            values=summary_values,
            sql=cluster_sql(cluster),
            trace_ids=exemplar_traces(cluster)[:max_traces],
            cluster_id=cluster.id,
        )
    ]
    if cluster.segments:
        seg_values: dict[str, float | int | str] = {}
        for share in cluster.segments[:8]:
            key = f"{share.attribute}={share.value}"
            seg_values[f"{key} affected_share"] = share.affected_share
            seg_values[f"{key} baseline_share"] = share.baseline_share
            seg_values[f"{key} lift"] = share.lift
            seg_values[f"{key} sessions"] = share.sessions
        items.append(
            TicketEvidence(
                id="ev-segments",
                kind="segment_breakdown",
                summary="Where the affected sessions concentrate, against everyone else",
                values=seg_values,
                cluster_id=cluster.id,
            )
        )
    seen = {"ev-impact", "ev-segments"}
    for item in cluster.evidence:
        ev_id = item.id if item.id not in seen else f"{item.id}-{len(seen)}"
        seen.add(ev_id)
        items.append(
            TicketEvidence(
                id=ev_id,
                kind=item.kind,
                summary=item.summary,
                values=dict(item.values),
                sql=item.sql,
                trace_ids=item.trace_ids[:max_traces],
                session_ids=item.session_ids[:max_traces],
                ticket_ids=item.ticket_ids,
                error_fingerprints=item.error_fingerprints,
                cluster_id=cluster.id,
            )
        )
    return items


def supporting_evidence(cluster: Cluster, max_traces: int) -> list[TicketEvidence]:
    """A supporting cluster's evidence, ids prefixed with its kind (``ticket_theme:ev-impact``)."""
    return [
        item.model_copy(update={"id": f"{cluster.kind}:{item.id}"})
        for item in evidence_of(cluster, max_traces)
    ]


def sample_traces(cluster: Cluster, max_traces: int) -> list[str]:
    """Real exemplar trace ids, the cluster's own first, without duplicates."""
    seen: list[str] = []
    for trace_id in [
        *exemplar_traces(cluster),
        *(t for e in cluster.evidence for t in e.trace_ids),
    ]:
        if trace_id and trace_id not in seen:
            seen.append(trace_id)
    return seen[:max_traces]


def linked_tickets(cluster: Cluster) -> list[str]:
    ids = [*cluster.linked_ticket_ids, *(t for e in cluster.evidence for t in e.ticket_ids)]
    return list(dict.fromkeys(i for i in ids if i))


def linked_errors(cluster: Cluster) -> list[str]:
    ids = [
        *cluster.linked_error_fingerprints,
        *(f for e in cluster.evidence for f in e.error_fingerprints),
    ]
    return list(dict.fromkeys(i for i in ids if i))


def acceptance_of(cluster: Cluster, recovery: float) -> list[AcceptanceCriterion]:
    """The measurable target: the metric for the same segment recovers most of its gap."""
    comparison, threshold = threshold_for(cluster.metric, cluster.value, cluster.baseline, recovery)
    where = f" at {cluster.step}" if cluster.step else ""
    flow = f" in {flow_phrase(cluster.flow)}" if cluster.flow else ""
    return [
        AcceptanceCriterion(
            description=(
                f"{metric_name(cluster.metric)}{where}{flow} for {segment_phrase(cluster.segment)} "
                f"is {comparison} {metric_value(cluster.metric, threshold)} over a comparable "
                "window after the fix ships"
            ),
            metric=cluster.metric,
            comparison=comparison,  # type: ignore[arg-type]
            threshold=threshold,
            segment=dict(cluster.segment),
            flow=cluster.flow,
            step=cluster.step,
        )
    ]
