"""Load a simulation into a warehouse the way production data arrives (spans, tickets, errors)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.errors import derive_errors
from ingest.tickets import Privacy, store, ticket_from_mapping
from simulator.api import bulk_load
from simulator.manifest import Manifest
from simulator.spec import ProblemSet
from warehouse import Warehouse


def load_simulation(
    wh: Warehouse,
    app: str = "shop",
    *,
    seed: int = 7,
    sessions: int = 3000,
    problems: ProblemSet | None = None,
    start: datetime | None = None,
) -> Manifest:
    """Spans and logs (bulk), support tickets, derived errors; returns the ground truth."""
    sim = bulk_load(app, wh, seed=seed, sessions=sessions, problems=problems, start=start)
    privacy = Privacy(redact=True)
    store(wh, [ticket_from_mapping(t, source="sim", privacy=privacy) for t in sim.tickets])
    since, until = window(sim.manifest)
    derive_errors(wh, since, until)
    return sim.manifest


def window(manifest: Manifest) -> tuple[datetime, datetime]:
    """The manifest's window as naive UTC, with an hour of slack for sessions that run over."""
    return (
        manifest.window_start.replace(tzinfo=None),
        manifest.window_end.replace(tzinfo=None) + timedelta(hours=1),
    )
