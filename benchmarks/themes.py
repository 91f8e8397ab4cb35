"""Support-ticket theme clustering quality: real labelled requests and the simulator's tickets.

1. Bitext customer-support sample (4,514 requests, 27 intents; ../shared/data): the clustering
   chooses the number of themes itself; prints NMI, ARI and V-measure against the intents.
2. Simulator tickets (both built-in apps, several seeds), as `analyse` reports themes: the
   simulation loaded into a warehouse, friction clusters found, tickets linked to them by session
   (``--text-only``: ticket text alone, no warehouse). Each injected theme must be its own
   cluster: the cluster holding most of its tickets holds at least 80% of them (coverage), and
   at least 80% of that cluster are its tickets (purity). With three tickets to a theme that
   means exactly its tickets. Texts are redacted first, as ingest stores them.

Tune on some seeds, confirm on others: ``--first-seed 6 --seeds 5`` scores seeds 6-10.

    .venv/bin/python benchmarks/themes.py [--seeds 5] [--first-seed 1] [--sessions 1500]
                                          [--skip-bitext] [--skip-simulator] [--text-only]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# benchmarks/analysis.py would shadow the analysis package: keep this folder off the path;
# the repository root on it (the simulation loader is shared with the tests).
_HERE = str(Path(__file__).resolve().parent)
if _HERE in sys.path:
    sys.path.remove(_HERE)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.metrics import (  # noqa: E402
    adjusted_rand_score,
    normalized_mutual_info_score,
    v_measure_score,
)

from analysis.config import ThemeSettings  # noqa: E402
from analysis.themes import cluster_texts, ticket_text, topic_words  # noqa: E402
from ingest.redaction import redact  # noqa: E402

SESSIONS = 1500
BITEXT = (
    Path(__file__).resolve().parents[2]
    / "shared" / "data" / "support-tickets" / "bitext-customer-support-sample.csv"
)  # fmt: skip


def bitext(seed: int) -> dict[str, float]:
    """Scores of the automatic-k clustering on the Bitext sample."""
    with BITEXT.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts = [r["instruction"] for r in rows]
    labels = [r["intent"] for r in rows]
    t0 = time.perf_counter()
    model = cluster_texts(texts, ThemeSettings(seed=seed))
    seconds = time.perf_counter() - t0
    return {
        "k": model.k,
        "nmi": normalized_mutual_info_score(labels, model.labels),
        "ari": adjusted_rand_score(labels, model.labels),
        "v_measure": v_measure_score(labels, model.labels),
        "seconds": seconds,
    }


Injected = list[tuple[str, list[str]]]


def own_clusters(
    app: str, seed: int, theme_of: dict[str, int], injected: Injected
) -> tuple[int, list[str]]:
    """(injected themes that are their own cluster, failures); ``theme_of``: ticket id -> theme
    (a ticket in no theme is a theme of its own)."""
    sizes = Counter(theme_of.values())
    ok, failures = 0, []
    for theme_id, ticket_ids in injected:
        labels = [theme_of.get(t, -1 - i) for i, t in enumerate(ticket_ids)]
        cluster, count = Counter(labels).most_common(1)[0]
        coverage, purity = count / len(ticket_ids), count / sizes.get(cluster, 1)
        if coverage >= 0.8 and purity >= 0.8:
            ok += 1
        else:
            failures.append(f"{app}/{seed} {theme_id}: coverage {coverage:.2f} purity {purity:.2f}")
    return ok, failures


def text_only(app: str, seed: int, sessions: int = SESSIONS) -> tuple[dict[str, int], Injected]:
    """Theme of each ticket from the ticket text alone (no telemetry, no warehouse)."""
    from simulator.api import simulate

    sim = simulate(app, seed=seed, sessions=sessions)
    # what the analysis reads: subject and body as ingest stored them (personal data redacted)
    pairs = [(redact(t["subject"]), redact(t["body"])) for t in sim.tickets]
    texts = [ticket_text(s, b) for s, b in pairs]
    model = cluster_texts(
        texts, ThemeSettings(seed=seed), topics=[topic_words(s, b) for s, b in pairs]
    )
    theme_of = {t["id"]: int(c) for t, c in zip(sim.tickets, model.labels, strict=True)}
    return theme_of, _injected(sim.manifest)


def pipeline(
    dsn: str, app: str, seed: int, sessions: int = SESSIONS
) -> tuple[dict[str, int], Injected]:
    """Theme of each ticket as `analyse` reports it: telemetry and tickets loaded into a
    warehouse, friction clusters found, tickets linked to them by session (themes smaller than
    ``min_theme_size`` are not reported: their tickets are in no theme)."""
    from analysis.config import AnalysisSettings
    from analysis.engine import analyse
    from tests.analysis.simdata import load_simulation, window
    from warehouse import WarehouseSettings, open_warehouse

    wh = open_warehouse(WarehouseSettings(dsn=dsn, database=f"themes_{app}_{seed}"))
    try:
        manifest = load_simulation(wh, app, seed=seed, sessions=sessions)
        since, until = window(manifest)
        cfg = AnalysisSettings(themes=ThemeSettings(seed=seed))
        result = analyse(wh, cfg, since, until, until)
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()
    theme_of = {t: i for i, theme in enumerate(result.themes) for t in theme.ticket_ids}
    return theme_of, _injected(manifest)


def _injected(manifest: Any) -> Injected:
    return [(th.id, list(th.ticket_ids)) for th in manifest.ticket_themes if th.linked_id]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="simulator seeds per app")
    parser.add_argument("--first-seed", type=int, default=1, help="first simulator seed")
    parser.add_argument("--sessions", type=int, default=SESSIONS, help="simulated sessions")
    parser.add_argument("--skip-simulator", action="store_true")
    parser.add_argument("--skip-bitext", action="store_true")
    parser.add_argument(
        "--text-only", action="store_true", help="simulator: cluster ticket text without telemetry"
    )
    args = parser.parse_args()
    if not args.skip_bitext:
        print("Bitext customer support sample: 4,514 requests, 27 intents, k chosen automatically")
        print(f"{'seed':>4}  {'k':>3}  {'NMI':>6}  {'ARI':>6}  {'V':>6}  {'seconds':>7}")
        for seed in (7, 11, 23):
            s = bitext(seed)
            print(f"{seed:>4}  {s['k']:>3}  {s['nmi']:6.3f}  {s['ari']:6.3f}  "
                  f"{s['v_measure']:6.3f}  {s['seconds']:7.1f}")  # fmt: skip
    if args.skip_simulator:
        return
    from simulator.api import builtin_apps

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    how = "ticket text only" if args.text_only else "analyse(): text and telemetry links"
    print(f"\nSimulator tickets ({args.sessions} sessions, {how}), seeds {seeds.start}-"
          f"{seeds.stop - 1}: injected themes that are their own cluster")  # fmt: skip
    total = good = 0
    with tempfile.TemporaryDirectory(prefix="andon-themes-") as tmp:
        for app in builtin_apps():
            for seed in seeds:
                if args.text_only:
                    theme_of, injected = text_only(app, seed, args.sessions)
                else:
                    theme_of, injected = pipeline(f"chdb://{tmp}", app, seed, args.sessions)
                ok, failures = own_clusters(app, seed, theme_of, injected)
                total, good = total + len(injected), good + ok
                print(f"  {app:<6} seed {seed}: {ok}/{len(injected)}")
                for f in failures:
                    print(f"    {f}")
    print(f"total: {good}/{total} injected themes recovered as their own cluster")


if __name__ == "__main__":
    main()
