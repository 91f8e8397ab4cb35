"""Ticket quality on simulator scenarios: grounding pass rate of the offline writer, and whether
every injected friction yields exactly one ticket.

    .venv/bin/python benchmarks/tickets.py [--sessions 3000] [--seeds 7,11,23,42]

For each scenario (the shop app's default problems with seed 7, then random problems per seed)
it simulates telemetry and support tickets into a fresh database of a temporary embedded
warehouse, analyses the window, drafts tickets with the offline writer (no model, no network),
and prints per scenario and in total:

- tickets drafted and how many pass the grounding check (figures and ids checked);
- per injected friction, how many tickets are led by a cluster about it (its matched cluster,
  or a support-ticket theme or error group linked to that cluster); the target is exactly one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.config import AnalysisSettings
from analysis.engine import analyse
from analysis.models import Cluster
from analysis.scoring import score
from ingest.errors import derive_errors
from ingest.tickets import Privacy, store, ticket_from_mapping
from simulator.api import bulk_load, load_app, random_problems
from ticketing.config import TicketingSettings
from ticketing.drafting import draft_tickets
from ticketing.models import Ticket
from ticketing.policy import Policy
from warehouse import open_warehouse
from warehouse.config import WarehouseSettings


def related_clusters(matched: Cluster, clusters: list[Cluster]) -> set[str]:
    """The matched cluster plus the theme and error-group clusters linked to it."""
    ids = {matched.id}
    links = set(matched.linked_theme_ids) | set(matched.linked_error_fingerprints)
    for c in clusters:
        if c.kind == "ticket_theme" and set(c.linked_theme_ids) & links:
            ids.add(c.id)
        if c.kind == "error_group" and set(c.linked_error_fingerprints) & links:
            ids.add(c.id)
    return ids


@dataclass
class ScenarioResult:
    scenario: str
    clusters: int
    tickets: int
    grounded: int
    checked: int
    frictions: list[tuple[str, int | None]]  # truth id -> tickets covering it (None: not found)
    seconds: float


def run_scenario(engine: Path, name: str, seed: int, sessions: int, random: bool) -> ScenarioResult:
    wh = open_warehouse(
        WarehouseSettings(dsn=f"chdb://{engine}", database=f"bench_{name.replace('-', '_')}")
    )
    try:
        app = load_app("shop")
        problems = random_problems(app, seed=seed) if random else None
        t0 = time.perf_counter()
        sim = bulk_load(app, wh, seed=seed, sessions=sessions, problems=problems)
        store(
            wh,
            [
                ticket_from_mapping(t, source="sim", privacy=Privacy(redact=True))
                for t in sim.tickets
            ],
        )
        since = sim.manifest.window_start.replace(tzinfo=None)
        until = sim.manifest.window_end.replace(tzinfo=None) + timedelta(hours=1)
        derive_errors(wh, since, until)
        result = analyse(wh, AnalysisSettings(), since, until, until)
        outcome = draft_tickets(
            wh, TicketingSettings(), Policy(), result.clusters, run_id=f"bench-{name}",
            now=until, window_days=(until - since).total_seconds() / 86_400,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        tickets: list[Ticket] = outcome.tickets
        by_id = {c.id: c for c in result.clusters}
        per_friction: list[tuple[str, int | None]] = []
        for match in score(result.clusters, sim.manifest).matches:
            if match.cluster_id is None:  # the analysis did not find it: no cluster, no ticket
                per_friction.append((match.truth_id, None))
                continue
            related = related_clusters(by_id[match.cluster_id], result.clusters)
            # Tickets *led* by a cluster about this friction (a theme shared with another
            # friction may ride on that one's ticket as supporting evidence: not a duplicate).
            covering = [t for t in tickets if t.cluster_ids[0] in related]
            per_friction.append((match.truth_id, len(covering)))
        ungrounded = [t for t in tickets if not t.grounded]
        for t in ungrounded:
            print(
                f"  UNGROUNDED {t.id}: {[f.token for f in t.grounding.failures]}", file=sys.stderr
            )
        return ScenarioResult(
            scenario=name,
            clusters=len(result.clusters),
            tickets=len(tickets),
            grounded=len(tickets) - len(ungrounded),
            checked=sum(t.grounding.checked for t in tickets),
            frictions=per_friction,
            seconds=round(seconds, 1),
        )
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--seeds", default="11,23,42", help="Seeds of random-problem scenarios.")
    args = parser.parse_args()
    engine = Path(tempfile.mkdtemp(prefix="andon-bench-tickets-"))
    scenarios = [("default-7", 7, False)] + [
        (f"random-{s}", int(s), True) for s in args.seeds.split(",") if s.strip()
    ]
    rows = [run_scenario(engine, name, seed, args.sessions, rnd) for name, seed, rnd in scenarios]
    total_tickets = sum(r.tickets for r in rows)
    total_grounded = sum(r.grounded for r in rows)
    frictions = [n for r in rows for _, n in r.frictions]
    print(
        f"{'scenario':<12} {'clusters':>8} {'tickets':>8} {'grounded':>9} {'checked':>8}  "
        "frictions -> tickets"
    )
    for r in rows:
        fr = ", ".join(
            f"{fid.split('-', 2)[-1]}:{'not found' if n is None else n}" for fid, n in r.frictions
        )
        print(
            f"{r.scenario:<12} {r.clusters:>8} {r.tickets:>8} {r.grounded:>9} {r.checked:>8}  "
            f"{fr}  ({r.seconds}s)"
        )
    found = [n for n in frictions if n is not None]
    exactly_one = sum(1 for n in found if n == 1)
    print(
        f"\noffline drafts passing grounding: {total_grounded}/{total_tickets}"
        f" ({100 * total_grounded / max(1, total_tickets):.1f}%)"
    )
    print(
        f"injected frictions the analysis found: {len(found)}/{len(frictions)}; "
        f"of those, with exactly one ticket: {exactly_one}/{len(found)}"
    )


if __name__ == "__main__":
    main()
