"""Friction detection quality on simulator scenarios: every built-in app, several seeds.

For each app and seed: one scenario with random injected problems (frictions and a bad deploy)
and one clean scenario (innocent deploys only). Prints, per scenario, the injected frictions
found (a cluster of the same kind, step and segment, with affected sessions within 10%), those
whose effect is within tolerance (3 points for rates, 10% for latencies and attempts),
unexpected clusters (not explained by an injected friction or incident), and a summary against
the targets: every friction found, effects within tolerance, at most one unexpected cluster per
scenario, no cluster on clean scenarios.

    .venv/bin/python benchmarks/friction_quality.py [--seeds 5] [--first-seed 1] [--sessions 4000]

``--first-seed 6`` gives held-out scenarios (seeds nothing was tuned on).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# The simulation loader is shared with the tests (tests/analysis/simdata.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.config import AnalysisSettings
from analysis.engine import analyse
from analysis.scoring import Score, score
from simulator.api import builtin_apps, load_app, random_problems
from tests.analysis.simdata import load_simulation, window
from warehouse import Warehouse, WarehouseSettings, open_warehouse


@dataclass
class Row:
    app: str
    seed: int
    clean: bool
    score: Score
    clusters: int
    seconds: float


def run_scenario(
    dsn: str, app: str, seed: int, clean: bool, sessions: int, cfg: AnalysisSettings
) -> Row:
    """Simulate one scenario into its own database, analyse it, score it."""
    wh: Warehouse = open_warehouse(
        WarehouseSettings(dsn=dsn, database=f"q_{app}_{seed}_{'clean' if clean else 'faults'}")
    )
    try:
        problems = random_problems(load_app(app), seed, clean=clean)
        manifest = load_simulation(wh, app, seed=seed, sessions=sessions, problems=problems)
        since, until = window(manifest)
        t0 = time.perf_counter()
        result = analyse(wh, cfg, since, until, until)
        seconds = time.perf_counter() - t0
        # The manifest states every truth over the population the data shows (a drop-off over
        # the sessions on the flow's path at the step): every truth is scored strictly.
        return Row(
            app, seed, clean, score(result.clusters, manifest), len(result.clusters), seconds
        )
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=4000)
    parser.add_argument("--apps", nargs="*", default=None)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every cluster")
    args = parser.parse_args()
    cfg = AnalysisSettings()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="andon-quality-") as tmp:
        dsn = f"chdb://{tmp}"
        print(f"{'app':<8}{'seed':>5}  {'scenario':<8}{'found':>7}{'within':>8}{'unexpected':>11}"
              f"{'explained':>10}{'clusters':>9}{'seconds':>8}")  # fmt: skip
        for app in args.apps or builtin_apps():
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                for clean in (False, True):
                    row = run_scenario(dsn, app, seed, clean, args.sessions, cfg)
                    rows.append(row)
                    s = row.score
                    n = len(s.matches)
                    print(f"{app:<8}{seed:>5}  {'clean' if clean else 'faults':<8}"
                          f"{f'{s.found}/{n}':>7}{f'{s.within}/{n}':>8}{len(s.unexpected):>11}"
                          f"{len(s.explained):>10}{row.clusters:>9}{row.seconds:>8.1f}",
                          flush=True)  # fmt: skip
                    for m in s.matches:
                        if not m.cluster_id or not m.within_tolerance or args.verbose:
                            print(f"    {m.truth_id} {m.kind} {m.step} {m.segment}: truth "
                                  f"{m.truth_value:.4g}, found {m.value}, error "
                                  f"{m.error if m.error is None else round(m.error, 4)}")  # fmt: skip
                    for c in s.unexpected:
                        print(f"    unexpected: {c.kind} {c.step} {c.segment} {c.title}")
                    if args.verbose:
                        for c in s.explained:
                            print(f"    explained: {c.kind} {c.step} {c.segment} {c.title}")
    faults = [r for r in rows if not r.clean]
    cleans = [r for r in rows if r.clean]
    truths = sum(len(r.score.matches) for r in faults)
    found = sum(r.score.found for r in faults)
    within = sum(r.score.within for r in faults)
    worst = max((len(r.score.unexpected) for r in faults), default=0)
    clean_clusters = sum(r.clusters for r in cleans)
    print()
    print(f"injected frictions found:      {found}/{truths}  (target: all)")
    print(f"effects within tolerance:      {within}/{truths}  (target: all)")
    print(f"max unexpected per scenario:   {worst}  (target: <= 1)")
    print(f"clusters on clean scenarios:   {clean_clusters}  (target: 0)")


if __name__ == "__main__":
    main()
