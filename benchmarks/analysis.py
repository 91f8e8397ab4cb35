"""Speed of the full friction analysis over 1, 3 and 10 million spans in the embedded warehouse.

The shop app is simulated once (``--base-sessions``) straight into a temporary chDB warehouse,
then replicated inside ClickHouse with fresh trace, span, session and user ids (more concurrent
users over the same day) up to each size. At each size the error events are derived (not timed)
and `analysis.engine.analyse` runs over the whole window: attribute discovery, the per-session
SQL pre-aggregation, flow discovery, every detector, evidence, error groups and ticket themes.

    .venv/bin/python benchmarks/analysis.py [--sizes 1 3 10] [--base-sessions 12000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# This script is named like the package it measures: keep its own folder off the import path.
_HERE = str(Path(__file__).resolve().parent)
if _HERE in sys.path:
    sys.path.remove(_HERE)

from analysis.config import AnalysisSettings  # noqa: E402
from analysis.engine import analyse  # noqa: E402
from ingest.errors import derive_errors  # noqa: E402
from simulator.api import bulk_load  # noqa: E402
from warehouse import Warehouse, WarehouseSettings, open_warehouse  # noqa: E402

COLUMNS = (
    "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, "
    "ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, "
    "StatusMessage, `Events.Timestamp`, `Events.Name`, `Events.Attributes`, `Links.TraceId`, "
    "`Links.SpanId`, `Links.TraceState`, `Links.Attributes`"
)


def _hex(expr: str, replica: str, length: int) -> str:
    return (
        f"if({expr} = '', '', substring(lower(hex(MD5(concat({expr}, {replica})))), 1, {length}))"
    )


def replicate(wh: Warehouse, base_rows: int, replica: int) -> None:
    """Copy the original spans as replica ``replica``: new ids, new sessions and users."""
    r = f"'#{replica}'"
    attrs = (
        "mapApply((k, v) -> (k, if(k IN ('session.id', 'enduser.id') AND v != '', "
        f"concat(v, {r}), v)), SpanAttributes)"
    )
    select = (
        f"SELECT Timestamp, {_hex('TraceId', r, 32)}, {_hex('SpanId', r, 16)}, "
        f"{_hex('ParentSpanId', r, 16)}, TraceState, SpanName, SpanKind, ServiceName, "
        f"ResourceAttributes, ScopeName, ScopeVersion, {attrs}, Duration, StatusCode, "
        "StatusMessage, `Events.Timestamp`, `Events.Name`, `Events.Attributes`, "
        "`Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes` "
        f"FROM {wh.table('otel_traces')} WHERE NOT position(SpanAttributes['session.id'], '#') "
        f"LIMIT {base_rows}"
    )
    wh.command(f"INSERT INTO {wh.table('otel_traces')} ({COLUMNS}) {select}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="*", default=[1, 3, 10],
                        help="millions of spans")  # fmt: skip
    parser.add_argument("--base-sessions", type=int, default=12000)
    args = parser.parse_args()
    cfg = AnalysisSettings()
    with tempfile.TemporaryDirectory(prefix="andon-bench-") as tmp:
        wh = open_warehouse(WarehouseSettings(dsn=f"chdb://{tmp}", database="bench"))
        t0 = time.perf_counter()
        sim = bulk_load("shop", wh, seed=7, sessions=args.base_sessions)
        base = int(wh.scalar(f"SELECT count() FROM {wh.table('otel_traces')}"))
        print(f"simulated {base:,} spans ({args.base_sessions:,} sessions) in "
              f"{time.perf_counter() - t0:.0f}s")  # fmt: skip
        since = sim.manifest.window_start.replace(tzinfo=None)
        until = sim.manifest.window_end.replace(tzinfo=None) + timedelta(hours=1)
        replica = 0
        print(f"{'spans':>12} {'sessions':>10} {'seconds':>8} {'s per M':>8}  breakdown")
        for size in args.sizes:
            target = int(size * 1_000_000)
            while base * (replica + 1) < target:
                replica += 1
                replicate(wh, base, replica)
            spans = int(wh.scalar(f"SELECT count() FROM {wh.table('otel_traces')}"))
            derive_errors(wh, since, until)
            t0 = time.perf_counter()
            result = analyse(wh, cfg, since, until, until)
            seconds = time.perf_counter() - t0
            parts = " ".join(f"{k}={v:.1f}" for k, v in result.timings.items())
            print(f"{spans:>12,} {result.sessions:>10,} {seconds:>8.1f} "
                  f"{seconds / (spans / 1e6):>8.2f}  {parts}  ({len(result.clusters)} clusters)",
                  flush=True)  # fmt: skip
        wh.close()


if __name__ == "__main__":
    main()
