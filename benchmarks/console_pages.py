"""How fast the console's pages and API answer on a simulated warehouse, and what a scheduler
cycle costs.

The shop app is simulated (``--sessions``) into a temporary embedded warehouse and one batch
cycle runs over it (analysis -> tickets -> incidents). Then `andon serve`'s console runs
in-process and every main page and API endpoint is fetched ``--repeat`` times by a signed-in
client; the script prints median and 95th percentile latency per page. Last, each scheduled job
runs once through the job runner (recorded, as in production) and its duration is printed.

    .venv/bin/python -m benchmarks.console_pages [--sessions 3000] [--repeat 20]

(Run it as a module from the repository root: as a script, benchmarks/ingest.py would shadow
the ingest package.)
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

# Run as a script, this folder comes first on sys.path and its ingest.py/analysis.py would
# shadow the packages of the same names.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.auth import hash_password, token_sha256
from ingest.changes import change_from
from ingest.changes import store as store_changes
from ingest.tickets import Privacy, ticket_from_mapping
from ingest.tickets import store as store_tickets
from pipeline.cycle import run_cycle
from rca import service as rca
from scheduler import shared_runner
from server.runtime import start_server
from settings import load_settings
from simulator.api import bulk_load
from ticketing import service as tickets
from warehouse import open_warehouse

TOKEN = "andon_benchmark_token"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            overrides={
                "warehouse": {"dsn": f"chdb://{tmp}/wh"},
                "ticketing": {"export_dir": f"{tmp}/exports"},
                "scheduler": {"enabled": False},
                "console": {
                    "users": [{"name": "bench", "password_hash": hash_password("benchmark")}],
                    "api_tokens": [{"name": "bench", "sha256": token_sha256(TOKEN)}],
                    "secret_key": "benchmark",
                },
            }
        )
        wh = open_warehouse(settings.warehouse)
        began = time.perf_counter()
        sim = bulk_load("shop", wh, seed=7, sessions=args.sessions)
        privacy = Privacy(redact=True)
        store_tickets(
            wh, [ticket_from_mapping(t, source="sim", privacy=privacy) for t in sim.tickets]
        )
        store_changes(wh, [change_from(c, source="sim") for c in sim.changes])
        since = sim.manifest.window_start.replace(tzinfo=None)
        until = sim.manifest.window_end.replace(tzinfo=None) + timedelta(hours=1)
        cycle = run_cycle(settings, wh, since, until, now=until, trigger="benchmark")
        if not cycle.tickets:
            tickets.draft_for_run(wh, settings, cycle.clusters, cycle.run_id, until)
        print(
            f"data: {sim.manifest.counts.spans:,} spans, {args.sessions:,} sessions; "
            f"simulate + cycle {time.perf_counter() - began:.1f} s"
        )
        ticket = tickets.list_tickets(wh)[0].id
        incident = rca.list_incidents(wh)[0].id if rca.list_incidents(wh) else None
        trace = wh.scalar(
            f"SELECT TraceId FROM {wh.table('otel_traces')} WHERE ParentSpanId = '' LIMIT 1"
        )

        running = start_server(settings, wh, ingest_port=0, console_port=0)
        try:
            with httpx.Client(base_url=running.console_url, timeout=120) as client:
                page = client.get("/login").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', page)
                assert csrf
                client.post(
                    "/login", data={"name": "bench", "password": "benchmark", "csrf": csrf.group(1)}
                )
                paths = [
                    "/",
                    "/tickets",
                    f"/tickets/{ticket}",
                    "/incidents",
                    "/friction",
                    "/runs",
                    f"/traces/{trace}",
                ]
                if incident:
                    paths.insert(4, f"/incidents/{incident}")
                api = ["/api/v1/tickets", "/api/v1/incidents", "/api/v1/flows", "/api/v1/runs"]
                print(f"{'page':<44} {'median ms':>10} {'p95 ms':>10}")
                for path in paths + api:
                    headers = (
                        {"Authorization": f"Bearer {TOKEN}"} if path.startswith("/api") else {}
                    )
                    client.get(path, headers=headers)  # warm (caches, first queries)
                    timings = []
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        response = client.get(path, headers=headers)
                        timings.append((time.perf_counter() - t0) * 1000)
                        assert response.status_code == 200, (path, response.status_code)
                    print(
                        f"{path[:44]:<44} {statistics.median(timings):>10.1f} {_percentile(timings, 0.95):>10.1f}"
                    )
        finally:
            running.stop()

        runner = shared_runner(settings, wh)
        print(f"{'job (one recorded run over the data window)':<44} {'seconds':>10} {'status':>10}")
        for job in runner.jobs:
            t0 = time.perf_counter()
            run = runner.run_now(job.name, since=since, until=until, actor="benchmark")
            print(f"{job.name:<44} {time.perf_counter() - t0:>10.2f} {run.status:>10}")
        wh.close()


if __name__ == "__main__":
    main()
