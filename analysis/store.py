"""Clusters and ticket themes in the warehouse, per run (append-only), and reading them back.

from analysis.store import load_clusters, get_cluster
clusters = load_clusters(wh)                 # the latest successful run's, ranked
clusters = load_clusters(wh, run_id="run-...")
cluster = get_cluster(wh, "cl-dropoff-...")  # from the latest run that has it
"""

from __future__ import annotations

from datetime import UTC, datetime

from analysis.models import Cluster, TicketTheme
from errors import NotFoundError
from warehouse import Warehouse

CLUSTERS_TABLE = "andon_clusters"
THEMES_TABLE = "andon_ticket_themes"
RUNS_TABLE = "andon_runs"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def save_clusters(
    wh: Warehouse,
    run_id: str,
    window: tuple[datetime, datetime],
    clusters: list[Cluster],
    *,
    created_at: datetime | None = None,
) -> int:
    """Append a run's ranked clusters; returns how many rows were written."""
    created = created_at or _now()
    rows = [
        (
            run_id, c.id, rank, c.kind, c.flow, c.step, c.segment, c.metric, float(c.value),
            float(c.baseline), c.affected_sessions, c.affected_users, float(c.lost_conversions),
            float(c.score), c.confidence, c.title, window[0], window[1], c.model_dump_json(),
            created,
        )
        for rank, c in enumerate(clusters, start=1)
    ]  # fmt: skip
    return wh.insert(
        CLUSTERS_TABLE,
        rows,
        [
            "RunId", "ClusterId", "Rank", "Kind", "Flow", "Step", "Segment", "Metric", "Value",
            "Baseline", "AffectedSessions", "AffectedUsers", "LostConversions", "Score",
            "Confidence", "Title", "WindowStart", "WindowEnd", "Payload", "CreatedAt",
        ],
    )  # fmt: skip


def save_themes(
    wh: Warehouse, run_id: str, themes: list[TicketTheme], *, created_at: datetime | None = None
) -> int:
    """Append a run's ticket themes."""
    created = created_at or _now()
    rows = [
        (
            run_id, t.id, t.label, t.top_terms, t.representative_ticket_id, t.tickets,
            t.ticket_ids, t.trend, t.linked_cluster_ids, created,
        )
        for t in themes
    ]  # fmt: skip
    return wh.insert(
        THEMES_TABLE,
        rows,
        [
            "RunId", "ThemeId", "Label", "TopTerms", "RepresentativeTicketId", "Tickets",
            "TicketIds", "Trend", "LinkedClusterIds", "CreatedAt",
        ],
    )  # fmt: skip


def latest_run_id(wh: Warehouse) -> str | None:
    """The most recent run that finished successfully, or None."""
    value = wh.scalar(
        f"SELECT RunId FROM {wh.table(RUNS_TABLE)} GROUP BY RunId "
        "HAVING argMax(Status, Version) = 'succeeded' "
        "ORDER BY max(StartedAt) DESC, RunId DESC LIMIT 1"
    )
    return str(value) if value else None


def load_clusters(wh: Warehouse, run_id: str | None = None) -> list[Cluster]:
    """A run's clusters in rank order (default: the latest successful run; [] if none)."""
    run = run_id or latest_run_id(wh)
    if run is None:
        return []
    rows = wh.rows(
        f"SELECT argMax(Payload, CreatedAt) FROM {wh.table(CLUSTERS_TABLE)} "
        "WHERE RunId = {run:String} GROUP BY ClusterId ORDER BY min(Rank), ClusterId",
        {"run": run},
    )
    return [Cluster.model_validate_json(r[0]) for r in rows]


def get_cluster(wh: Warehouse, cluster_id: str, run_id: str | None = None) -> Cluster:
    """One cluster by id: from ``run_id``, else from the latest run that reported it."""
    where = "ClusterId = {cid:String}" + (" AND RunId = {run:String}" if run_id else "")
    value = wh.scalar(
        f"SELECT Payload FROM {wh.table(CLUSTERS_TABLE)} WHERE {where} "
        "ORDER BY WindowEnd DESC, CreatedAt DESC LIMIT 1",
        {"cid": cluster_id, "run": run_id or ""},
    )
    if value is None:
        where_text = f" in run {run_id}" if run_id else ""
        raise NotFoundError(f"no cluster {cluster_id!r}{where_text}")
    return Cluster.model_validate_json(value)


def load_themes(wh: Warehouse, run_id: str | None = None) -> list[dict[str, object]]:
    """A run's ticket themes as stored (default: the latest successful run)."""
    run = run_id or latest_run_id(wh)
    if run is None:
        return []
    rows = wh.rows(
        f"SELECT ThemeId, argMax(Label, CreatedAt), argMax(Tickets, CreatedAt), "
        f"argMax(TopTerms, CreatedAt), argMax(RepresentativeTicketId, CreatedAt), "
        f"argMax(LinkedClusterIds, CreatedAt), argMax(Trend, CreatedAt) "
        f"FROM {wh.table(THEMES_TABLE)} WHERE RunId = {{run:String}} "
        "GROUP BY ThemeId ORDER BY 3 DESC, ThemeId",
        {"run": run},
    )
    keys = ("id", "label", "tickets", "top_terms", "representative_ticket_id",
            "linked_cluster_ids", "trend")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]
