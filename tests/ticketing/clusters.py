"""Hand-built clusters in the shape the analysis produces (tests do not depend on its heuristics)."""

from __future__ import annotations

from analysis.models import Cluster, EvidenceItem, SegmentShare

TRACES = [f"{i:02x}" * 16 for i in range(1, 6)]


def dropoff_cluster(**overrides: object) -> Cluster:
    """Checkout drop-off at address validation on iOS (the essay's example)."""
    data: dict[str, object] = dict(
        id="dropoff:checkout:validate-address:os.name=iOS",
        kind="dropoff",
        flow="checkout",
        step="POST /api/v2/checkout/address",
        segment={"os.name": "iOS"},
        metric="dropoff_rate",
        value=0.3412,
        baseline=0.118,
        affected_sessions=2140,
        affected_users=1893,
        lost_conversions=477.6,
        p_value=0.0001,
        confidence="high",
        score=477.6,
        segments=[
            SegmentShare(
                attribute="os.name",
                value="iOS",
                affected_share=0.81,
                baseline_share=0.42,
                lift=1.93,
                sessions=1733,
            ),
            SegmentShare(
                attribute="app.version",
                value="4.2.0",
                affected_share=0.64,
                baseline_share=0.2,
                lift=3.2,
                sessions=1370,
            ),
        ],
        exemplar_trace_ids=TRACES[:3],
        sql="SELECT countIf(dropped) / count() FROM sessions WHERE os = 'iOS'",
        linked_ticket_ids=["ZD-1042", "ZD-1077"],
        linked_error_fingerprints=["9f2c4e1a77b0d3e5"],
        evidence=[
            EvidenceItem(
                id="ev-exemplars",
                kind="exemplars",
                summary="Sessions that reached the address step and left",
                trace_ids=TRACES[2:5],
                session_ids=["sess-a1b2c3", "sess-d4e5f6"],
            ),
            EvidenceItem(
                id="ev-tickets",
                kind="tickets",
                summary="Support tickets about the address form",
                values={"tickets": 2},
                ticket_ids=["ZD-1042", "ZD-1077"],
                sql="SELECT TicketId FROM andon_support_tickets WHERE ...",
            ),
        ],
    )
    data.update(overrides)
    return Cluster.model_validate(data)


def slow_cluster(**overrides: object) -> Cluster:
    data: dict[str, object] = dict(
        id="slow_step:search:GET /api/search:",
        kind="slow_step",
        flow="search",
        step="GET /api/search",
        segment={},
        metric="p75_ms",
        value=1840.0,
        baseline=420.0,
        affected_sessions=120,
        affected_users=110,
        exemplar_trace_ids=TRACES[3:5],
        sql="SELECT quantile(0.75)(Duration) / 1e6 FROM otel_traces WHERE ...",
    )
    data.update(overrides)
    return Cluster.model_validate(data)
