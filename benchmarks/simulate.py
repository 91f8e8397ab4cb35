"""How fast the simulator generates telemetry (spans per second), by path.

    .venv/bin/python benchmarks/simulate.py                       # 1M spans, bulk into chDB
    .venv/bin/python benchmarks/simulate.py --spans 10000000      # the 10M-span volume
    .venv/bin/python benchmarks/simulate.py --app saas --no-load  # plan + rows only

Paths measured:

- sdk: sessions planned and replayed through the real OpenTelemetry SDK (in-memory exporters),
  what `andon simulate` and `andon demo` use;
- plan: the seeded planner alone (span records);
- rows: planner + Collector-shaped Arrow rows (one process);
- bulk: what `andon simulate --load` does: planner and rows in a producer process, inserts into
  an embedded chDB warehouse (temporary directory) in this one, streamed in chunks.

Prints one line per path and a JSON summary at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.api import make_generator, plan_records, simulate
from simulator.rows import LogColumns, SpanColumns


def spans_per_session(app: str, seed: int) -> float:
    """Average spans per session of ``app`` (from a 300-session sample)."""
    gen = make_generator(app, seed=seed, sessions=300)
    return sum(len(spans) for spans, _ in gen.iter_sessions()) / 300


def bench_sdk(app: str, seed: int, sessions: int) -> dict[str, float]:
    began = time.perf_counter()
    sim = simulate(app, seed=seed, sessions=sessions)
    elapsed = time.perf_counter() - began
    return {"spans": len(sim.spans), "seconds": elapsed, "spans_per_s": len(sim.spans) / elapsed}


def bench_plan(app: str, seed: int, sessions: int) -> dict[str, float]:
    gen = make_generator(app, seed=seed, sessions=sessions)
    began = time.perf_counter()
    spans = sum(len(s) for s, _, _ in plan_records(gen))
    elapsed = time.perf_counter() - began
    return {"spans": spans, "seconds": elapsed, "spans_per_s": spans / elapsed}


def bench_rows(app: str, seed: int, sessions: int) -> dict[str, float]:
    gen = make_generator(app, seed=seed, sessions=sessions)
    began = time.perf_counter()
    total = 0
    for spans, logs, _ in plan_records(gen):
        columns, log_columns = SpanColumns(), LogColumns()
        for record in spans:
            columns.add_record(record, gen.resources)
        for log in logs:
            log_columns.add_record(log, gen.resources)
        columns.table()
        log_columns.table()
        total += len(spans)
    elapsed = time.perf_counter() - began
    return {"spans": total, "seconds": elapsed, "spans_per_s": total / elapsed}


def bench_bulk(app: str, seed: int, sessions: int, background: bool) -> dict[str, float]:
    from simulator.api import bulk_load
    from warehouse import WarehouseSettings, open_warehouse

    with tempfile.TemporaryDirectory(prefix="andon-bench-") as folder:
        wh = open_warehouse(WarehouseSettings(dsn=f"chdb://{folder}", database="bench"))
        try:
            began = time.perf_counter()

            def progress(done: int, total: int) -> None:
                rate = done / (time.perf_counter() - began)
                print(f"  bulk: {done:,}/{total:,} sessions ({rate:,.0f} sessions/s)",
                      file=sys.stderr)  # fmt: skip

            sim = bulk_load(
                app, wh, seed=seed, sessions=sessions, background=background, progress=progress
            )
            elapsed = time.perf_counter() - began
            stored = int(wh.scalar(f"SELECT count() FROM {wh.table('otel_traces')}"))
        finally:
            wh.close()
    total = sim.span_count
    return {"spans": total, "stored": stored, "seconds": elapsed, "spans_per_s": total / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", default="shop")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spans", type=int, default=1_000_000, help="Target spans (bulk path).")
    parser.add_argument("--sdk-sessions", type=int, default=2000, help="Sessions for the SDK path.")
    parser.add_argument("--no-load", action="store_true", help="Skip the chDB insert.")
    args = parser.parse_args()

    per_session = spans_per_session(args.app, args.seed)
    sessions = max(1, round(args.spans / per_session))
    print(f"{args.app}: {per_session:.1f} spans per session; {sessions:,} sessions for "
          f"~{args.spans:,} spans", file=sys.stderr)  # fmt: skip
    results: dict[str, dict[str, float]] = {}
    results["sdk"] = bench_sdk(args.app, args.seed, args.sdk_sessions)
    plan_sessions = min(sessions, 20_000)
    results["plan"] = bench_plan(args.app, args.seed, plan_sessions)
    results["rows"] = bench_rows(args.app, args.seed, plan_sessions)
    if not args.no_load:
        results["bulk"] = bench_bulk(args.app, args.seed, sessions, background=True)
    for name, figures in results.items():
        print(f"{name:<5} {int(figures['spans']):>12,} spans in {figures['seconds']:8.1f} s  "
              f"{figures['spans_per_s']:>10,.0f} spans/s")  # fmt: skip
    print(json.dumps({"app": args.app, "spans_per_session": per_session, "results": results}))


if __name__ == "__main__":
    main()
