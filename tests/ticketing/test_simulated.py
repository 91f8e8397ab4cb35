"""End to end on the simulator: the batch cycle drafts one grounded ticket per injected friction,
and a second run over the same window files nothing new."""

from __future__ import annotations

from datetime import datetime

from analysis.scoring import score
from pipeline.cycle import run_cycle
from settings import Settings
from simulator.manifest import Manifest
from tests.analysis.simdata import window
from ticketing import service
from warehouse import Warehouse


def test_cycle_drafts_one_grounded_ticket_per_injected_friction(
    simulated_shop: tuple[Warehouse, Manifest], settings: Settings
) -> None:
    wh, manifest = simulated_shop
    settings = settings.model_copy(
        update={"rca": settings.rca.model_copy(update={"enabled": False})}
    )
    since, until = window(manifest)
    now = datetime(2030, 1, 1)
    result = run_cycle(settings, wh, since, until, now).to_json()
    tickets = result["tickets"]
    assert tickets and all(t["grounded"] for t in tickets), [
        t for t in tickets if not t["grounded"]
    ]
    for t in tickets:
        assert {"id", "title", "priority", "status", "cluster_ids", "grounded"} <= set(t)
        assert t["status"] == "proposed" and t["priority"] in {"P0", "P1", "P2", "P3"}
    clusters = {c["id"]: c for c in result["clusters"]}
    assert {cid for t in tickets for cid in t["cluster_ids"]} == set(
        clusters
    )  # every cluster is in a ticket
    from analysis.models import Cluster

    matches = score([Cluster.model_validate(c) for c in clusters.values()], manifest).matches
    assert len(matches) == len(manifest.frictions) == 4
    for match in matches:
        assert match.cluster_id, f"{match.truth_id} not found by the analysis"
        covering = [t for t in tickets if match.cluster_id in t["cluster_ids"]]
        assert len(covering) == 1, (match.truth_id, covering)
        # the linked support-ticket theme rides on the same ticket instead of filing its own
        theme_ids = set(clusters[match.cluster_id]["linked_theme_ids"])
        for t in tickets:
            kinds = {clusters[c]["kind"] for c in t["cluster_ids"]}
            if t is not covering[0] and kinds == {"ticket_theme"}:
                assert not theme_ids & {
                    x for c in t["cluster_ids"] for x in clusters[c]["linked_theme_ids"]
                }

    # a second run over the same window: same tickets, nothing new, no new events
    before = {t.id: t.version for t in service.list_tickets(wh)}
    again = run_cycle(settings, wh, since, until, now).to_json()
    assert sorted(t["id"] for t in again["tickets"]) == sorted(before)
    assert {t.id: t.version for t in service.list_tickets(wh)} == before
