"""OTLP ingest throughput: end to end through `andon serve`'s receiver vs raw inserts.

Prints spans/s for

- **raw**: the same rows, already decoded into column lists, inserted straight into the engine
  in batches of the writer's size, the faster of two ways: `Warehouse.insert_columns`, and
  encoding Native blocks (`warehouse.native`) then `Warehouse.insert_native`;
- **end to end**: OTLP/HTTP protobuf requests from client processes to a running receiver
  (HTTP, decompression, decoding in the receiver's worker processes, batching writer, insert),
  timed until every request is acknowledged (acknowledged means committed);

measured in the same run, alternating, on a fresh embedded warehouse. Target: end to end at
least 60% of raw.

    .venv/bin/python benchmarks/ingest.py           # Collector-like: 10 senders x 8192 spans
    .venv/bin/python benchmarks/ingest.py --per-request 512 --clients 4 --senders 8  # SDK-like
    .venv/bin/python benchmarks/ingest.py --gzip --rounds 5
    .venv/bin/python benchmarks/ingest.py --decode-in-threads  # ingest.decode_processes off
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

ROUTES = ["/", "/cart", "/checkout", "/checkout/address", "/checkout/payment", "/api/items/{id}"]
COUNTRIES = ["US", "DE", "FR", "BR", "IN", "JP"]


def _kv(key: str, value: str | int | bool | float) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def make_request(rnd: random.Random, spans: int, t0: int) -> bytes:
    """One export request shaped like an instrumented web service's: a resource with the
    usual attributes, HTTP server/client spans with ~12 attributes, some exception events."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    service = rnd.choice(["frontend", "checkout", "payments", "catalog"])
    resource_spans.resource.attributes.extend(
        [
            _kv("service.name", service),
            _kv("service.version", f"2.{rnd.randint(0, 9)}.0"),
            _kv("deployment.environment.name", "production"),
            _kv("host.name", f"{service}-{rnd.randint(1, 8)}"),
            _kv("telemetry.sdk.language", "python"),
            _kv("telemetry.sdk.name", "opentelemetry"),
            _kv("telemetry.sdk.version", "1.45.2"),
        ]
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "opentelemetry.instrumentation.flask"
    scope_spans.scope.version = "0.66b2"
    trace_id = rnd.randbytes(16)
    parent = b""
    for i in range(spans):
        if i % 8 == 0:
            trace_id, parent = rnd.randbytes(16), b""
        span = scope_spans.spans.add()
        span.trace_id = trace_id
        span.span_id = rnd.randbytes(8)
        span.parent_span_id = parent
        parent = span.span_id
        route = rnd.choice(ROUTES)
        span.name = f"GET {route}"
        span.kind = 2 if not span.parent_span_id else rnd.choice([1, 3])
        start = t0 + i * 1_000_000
        span.start_time_unix_nano = start
        span.end_time_unix_nano = start + rnd.randint(200_000, 900_000_000)
        failed = rnd.random() < 0.05
        span.attributes.extend(
            [
                _kv("http.request.method", "GET"),
                _kv("http.route", route),
                _kv("http.response.status_code", 500 if failed else 200),
                _kv("url.scheme", "https"),
                _kv("server.address", "shop.example.com"),
                _kv("network.protocol.version", "1.1"),
                _kv("session.id", f"s-{rnd.randint(1, 5000)}"),
                _kv("enduser.id", f"u-{rnd.randint(1, 2000)}"),
                _kv("app.platform", rnd.choice(["web", "ios", "android"])),
                _kv("geo.country.iso_code", rnd.choice(COUNTRIES)),
                _kv("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                _kv("app.cart.value", round(rnd.uniform(1, 500), 2)),
            ]
        )
        if failed:
            span.status.code = 2
            span.status.message = "upstream timed out"
            event = span.events.add()
            event.name = "exception"
            event.time_unix_nano = start + 1000
            event.attributes.extend(
                [
                    _kv("exception.type", "TimeoutError"),
                    _kv("exception.message", "upstream timed out after 30s"),
                    _kv("exception.stacktrace", "Traceback (most recent call last): ..."),
                ]
            )
    return request.SerializeToString()


def _client(
    url: str,
    bodies: list[bytes],
    headers: dict[str, str],
    senders: int,
    ready: Any,
    start: Any,
    out: Any,
) -> None:
    """One client process with ``senders`` threads, each posting its share of the bodies one
    after the other and waiting for each acknowledgement, as an SDK or Collector exporter does."""
    import threading

    import httpx

    failures: list[int] = []

    def sender(share: list[bytes], client: httpx.Client) -> None:
        for body in share:
            while True:
                response = client.post(url, content=body, headers=headers)
                if response.status_code == 200:
                    break
                if response.status_code in (429, 503):
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                failures.append(response.status_code)
                break

    clients = [httpx.Client(timeout=300) for _ in range(senders)]
    for client in clients:
        client.get(url.rsplit("/v1/", 1)[0] + "/healthz")  # connected before the clock starts
    threads = [
        threading.Thread(target=sender, args=(bodies[i::senders], clients[i]))
        for i in range(senders)
    ]
    ready.put(True)
    start.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(len(failures))


def run_raw(wh: Any, batches: list[tuple[list[list[Any]], list[str]]], native: bool) -> float:
    """Seconds to insert the pre-decoded batches straight into the engine: as column lists
    (`insert_columns`), or encoded to a Native block and inserted (`insert_native`)."""
    from ingest.decode_workers import column_types
    from warehouse.native import NativeEncoder

    encoder = NativeEncoder("otel_traces", column_types(wh, "otel_traces"))
    started = time.perf_counter()
    for columns, names in batches:
        if native:
            block = encoder.encode(dict(zip(names, columns, strict=True)))
            wh.insert_native("otel_traces", [block])
        else:
            wh.insert_columns("otel_traces", columns, names)
    return time.perf_counter() - started


def run_end_to_end(
    url: str, bodies: list[bytes], clients: int, senders: int, compress: bool
) -> float:
    """Seconds for ``clients`` processes x ``senders`` threads to have every body acknowledged."""
    ctx = mp.get_context("spawn")
    headers = {"Content-Type": "application/x-protobuf"}
    if compress:
        headers["Content-Encoding"] = "gzip"
        bodies = [gzip.compress(body, 1) for body in bodies]
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    shares = [bodies[i::clients] for i in range(clients)]
    procs = [
        ctx.Process(
            target=_client,
            args=(f"{url}/v1/traces", share, headers, senders, ready, start, out),
        )
        for share in shares
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get()
    started = time.perf_counter()
    start.set()
    failures = sum(out.get() for _ in procs)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    if failures:
        raise SystemExit(f"{failures} requests failed")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Defaults: what a Collector forwarding to andon sends (otlphttp exporter with a batch
    # processor: 8192-span requests from 10 concurrent consumers).
    parser.add_argument("--spans", type=int, default=245_760, help="spans per round")
    parser.add_argument("--per-request", type=int, default=8192, help="spans per request")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--senders", type=int, default=5, help="concurrent senders per client")
    parser.add_argument("--rounds", type=int, default=3, help="alternating raw/E2E rounds")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="send the generated requests this many times per round (longer steady state, "
        "same memory)",
    )
    parser.add_argument("--gzip", action="store_true", help="gzip request bodies (level 1)")
    parser.add_argument(
        "--decode-in-threads",
        action="store_true",
        help="run the receiver with ingest.decode_processes off (decode in its own threads)",
    )
    parser.add_argument(
        "--decode-workers", type=int, default=None, help="ingest.decode_workers (default: cores)"
    )
    args = parser.parse_args()

    from ingest.decode_workers import usable_cores
    from ingest.otlp_decode import TRACE_COLUMNS, decode_traces_protobuf
    from server.runtime import start_server
    from settings import load_settings

    rnd = random.Random(7)
    t0 = 1_780_000_000_000_000_000
    n_requests = max(1, args.spans // args.per_request)
    print(f"generating {n_requests} requests of {args.per_request} spans ...", file=sys.stderr)
    bodies = [make_request(rnd, args.per_request, t0 + i * 10**9) for i in range(n_requests)]
    total = n_requests * args.per_request * args.repeat
    mb = sum(len(b) for b in bodies) / 1e6

    with tempfile.TemporaryDirectory(prefix="andon-bench-") as tmp:
        settings = load_settings(
            overrides={
                "warehouse": {"dsn": f"chdb://{Path(tmp) / 'warehouse'}"},
                "ingest": {
                    "decode_processes": not args.decode_in_threads,
                    "decode_workers": args.decode_workers,
                },
            }
        )
        batch_rows = settings.ingest.batch_max_rows
        # The raw side gets the same rows, decoded up front, cut into the writer's batch size.
        names = list(TRACE_COLUMNS)
        batches: list[tuple[list[list[Any]], list[str]]] = []
        current: list[list[Any]] = [[] for _ in names]
        for body in bodies:
            decoded = decode_traces_protobuf(body)
            for target, name in zip(current, names, strict=True):
                target.extend(decoded.columns[name])
            if len(current[0]) >= batch_rows:
                batches.append((current, names))
                current = [[] for _ in names]
        if current[0]:
            batches.append((current, names))

        with start_server(settings, ingest_port=0, console_port=0) as running:
            wh = running.warehouse
            traces = wh.table("otel_traces")
            raw_rates, e2e_rates = [], []
            for round_no in range(1, args.rounds + 1):
                wh.command(f"TRUNCATE TABLE {traces}")
                lists_s = run_raw(wh, batches * args.repeat, native=False)
                wh.command(f"TRUNCATE TABLE {traces}")
                native_s = run_raw(wh, batches * args.repeat, native=True)
                # The raw figure is the better of the two ways of inserting the same rows.
                raw_s = min(lists_s, native_s)
                wh.command(f"TRUNCATE TABLE {traces}")
                stats = running.writer.stats
                inserts_before = stats.inserts
                insert_s_before = stats.insert_seconds
                e2e_s = run_end_to_end(
                    running.ingest_url, bodies * args.repeat, args.clients, args.senders, args.gzip
                )
                stored = wh.scalar(f"SELECT count() FROM {traces}")
                if stored != total:
                    raise SystemExit(f"round {round_no}: {stored} spans stored, sent {total}")
                inserts = stats.inserts - inserts_before
                insert_s = stats.insert_seconds - insert_s_before
                raw_rates.append(total / raw_s)
                e2e_rates.append(total / e2e_s)
                print(
                    f"round {round_no} (load {os.getloadavg()[0]:.1f}): raw {total / raw_s:>9,.0f} spans/s (lists "
                    f"{total / lists_s:,.0f}, Native {total / native_s:,.0f})   "
                    f"end to end {total / e2e_s:>9,.0f} spans/s   "
                    f"({inserts} inserts, {total / max(inserts, 1):,.0f} rows each; the writer "
                    f"inserted for {insert_s:.1f} of {e2e_s:.1f} s)",
                    file=sys.stderr,
                )

    raw, e2e = statistics.median(raw_rates), statistics.median(e2e_rates)
    # Each round's raw and end-to-end runs are back to back, so their ratio is the figure least
    # moved by other work on the machine.
    ratio = statistics.median(e / r for e, r in zip(e2e_rates, raw_rates, strict=True))
    print(
        f"OTLP ingest benchmark: {total:,} spans/round in {n_requests * args.repeat} protobuf "
        f"requests of {args.per_request:,} spans"
    )
    senders = args.clients * args.senders
    gz = "on" if args.gzip else "off"
    where = "threads" if args.decode_in_threads else "worker processes"
    workers = args.decode_workers or usable_cores()
    print(
        f"  ({mb:.1f} MB; {senders} concurrent senders in {args.clients} processes; gzip {gz}; "
        f"decoding in {workers} {where})"
    )
    print(f"  raw insert (same rows, straight into the engine): {raw:>10,.0f} spans/s")
    print(f"  end to end (OTLP/HTTP -> committed):             {e2e:>10,.0f} spans/s")
    verdict = "meets" if ratio >= 0.6 else "misses"
    print(
        f"  end to end / raw: {ratio:.0%} ({verdict} the 60% target; median of {args.rounds} "
        "rounds' ratios)"
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"  machine load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
