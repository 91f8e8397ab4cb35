"""A warehouse filled the way production fills it: simulated telemetry, support tickets, change
events, then one batch cycle (analysis -> tickets -> incidents). Shared by the console and
dashboard tests, built once per test process (it takes a while on a small machine)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ingest.changes import change_from
from ingest.changes import store as store_changes
from ingest.tickets import Privacy, ticket_from_mapping
from ingest.tickets import store as store_tickets
from pipeline.cycle import run_cycle
from settings import Settings, load_settings
from simulator.api import bulk_load
from ticketing import service as tickets
from warehouse import Warehouse, open_warehouse

SESSIONS = 1500
SEED = 7


@dataclass
class DemoData:
    """The filled warehouse, its settings, the data window and what the cycle produced."""

    settings: Settings
    warehouse: Warehouse
    since: datetime
    until: datetime
    run_id: str
    ticket_ids: list[str]
    incident_ids: list[str]


def fill(settings: Settings, wh: Warehouse, sessions: int = SESSIONS) -> DemoData:
    """Simulate the built-in shop app (with its injected problems) and run one cycle over it."""
    sim = bulk_load("shop", wh, seed=SEED, sessions=sessions)
    privacy = Privacy(redact=True)
    store_tickets(wh, [ticket_from_mapping(t, source="sim", privacy=privacy) for t in sim.tickets])
    store_changes(wh, [change_from(c, source="sim") for c in sim.changes])
    since = sim.manifest.window_start.replace(tzinfo=None)
    until = sim.manifest.window_end.replace(tzinfo=None) + timedelta(hours=1)
    cycle = run_cycle(settings, wh, since, until, now=until, trigger="test")
    ticket_ids = [t.id for t in tickets.list_tickets(wh)]
    assert ticket_ids, "the batch cycle drafted no tickets from the simulated frictions"
    incident_ids = [i["id"] if isinstance(i, dict) else i.id for i in cycle.incidents]
    return DemoData(settings, wh, since, until, cycle.run_id, ticket_ids, incident_ids)


_shared: dict[Path, DemoData] = {}
_lock = threading.Lock()


def shared_demo(engine_dir: Path) -> DemoData:
    """The process's one demo warehouse (its own database in the test engine)."""
    with _lock:
        if engine_dir not in _shared:
            settings = load_settings(
                overrides={
                    "warehouse": {
                        "dsn": f"chdb://{engine_dir}",
                        "database": f"t_demo_{uuid.uuid4().hex[:8]}",
                    },
                    "ticketing": {"export_dir": str(engine_dir.parent / "exports")},
                }
            )
            _shared[engine_dir] = fill(settings, open_warehouse(settings.warehouse))
        return _shared[engine_dir]
