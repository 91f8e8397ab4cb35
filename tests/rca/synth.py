"""Small, exact telemetry for RCA tests: a three-service app written straight into otel_traces.

    web (client root  GET /checkout)
     └─ api      (Server  POST /checkout)          self ~15 ms
         └─ pricing (Server GET /quote)            self ~20 ms
             └─ pricing (Client SELECT prices)     ~5 ms  <- the fault can slow this down

A fault (latency or errors) starts at ``onset`` in one (service, operation), served only by the
spans of ``bad_version`` when given (a version split), else by every span after onset.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from warehouse import Warehouse

T0 = datetime(2026, 3, 2, 10, 0)

_TRACE_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName",
    "ResourceAttributes", "SpanAttributes", "Duration", "StatusCode", "StatusMessage",
]  # fmt: skip


@dataclass
class Fault:
    service: str = "pricing"
    operation: str = "SELECT prices"
    onset: datetime = T0 + timedelta(minutes=70)
    factor: float = 8.0  # latency multiplier
    error_rate: float = 0.0
    bad_version: str | None = None  # only spans of this version are hit
    until: datetime | None = None


@dataclass
class World:
    start: datetime = T0
    minutes: int = 100
    rpm: int = 40
    seed: int = 1
    fault: Fault | None = field(default_factory=Fault)
    # service -> [(from time, version, share of instances)] ; latest entry at or before t wins
    versions: dict[str, list[tuple[datetime, str, float]]] = field(default_factory=dict)


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join(f"{b:02x}" for b in rng.integers(0, 256, n, dtype=np.uint8))


def _version(world: World, service: str, t: datetime, rng: np.random.Generator) -> str:
    history = sorted(world.versions.get(service, []))
    current, previous = "1.0.0", "1.0.0"
    share = 1.0
    for at, version, frac in history:
        if at <= t:
            previous, current, share = current, version, frac
    if share < 1.0 and rng.random() > share:
        return previous
    return current


def write_world(wh: Warehouse, world: World) -> int:
    """Insert the world's spans; returns the number of spans."""
    rng = np.random.default_rng(world.seed)
    rows: list[list[Any]] = []
    for minute in range(world.minutes):
        for _ in range(world.rpm):
            t = world.start + timedelta(minutes=minute, seconds=float(rng.uniform(0, 60)))
            trace = _hex(rng, 16)
            user = f"u{int(rng.integers(0, 400))}"
            session = f"s-{user}-{minute // 30}"
            common = {"enduser.id": user, "session.id": session}
            versions = {s: _version(world, s, t, rng) for s in ("web", "api", "pricing")}
            hit = (
                world.fault is not None
                and t >= world.fault.onset
                and (world.fault.until is None or t < world.fault.until)
            )

            def faulty(
                service: str, op: str, ver: dict[str, str] = versions, hit: bool = hit
            ) -> bool:
                f = world.fault
                return (
                    hit
                    and f is not None
                    and f.service == service
                    and f.operation == op
                    and (f.bad_version is None or ver[service] == f.bad_version)
                )

            def lat(median: float, service: str, op: str) -> float:
                value = median * float(rng.lognormal(0, 0.3))
                if faulty(service, op) and world.fault is not None:
                    value *= world.fault.factor
                return value

            def err(service: str, op: str) -> bool:
                return bool(
                    faulty(service, op)
                    and world.fault is not None
                    and rng.random() < world.fault.error_rate
                )

            db_ms = lat(5, "pricing", "SELECT prices")
            db_err = err("pricing", "SELECT prices")
            quote_ms = db_ms + lat(20, "pricing", "GET /quote")
            quote_err = db_err or err("pricing", "GET /quote")
            api_ms = quote_ms + lat(15, "api", "POST /checkout")
            api_err = quote_err or err("api", "POST /checkout")
            web_ms = api_ms + lat(30, "web", "GET /checkout")
            ids = [_hex(rng, 8) for _ in range(4)]
            spans = [
                (ids[0], "", "GET /checkout", "Client", "web", web_ms, api_err, "/checkout"),
                (ids[1], ids[0], "POST /checkout", "Server", "api", api_ms, api_err, "/checkout"),
                (ids[2], ids[1], "GET /quote", "Server", "pricing", quote_ms, quote_err, "/quote"),
                (ids[3], ids[2], "SELECT prices", "Client", "pricing", db_ms, db_err, ""),
            ]
            for span_id, parent, name, kind, service, ms, is_err, route in spans:
                attrs = dict(common)
                if route:
                    attrs["http.route"] = route
                    attrs["http.response.status_code"] = "500" if is_err else "200"
                rows.append(
                    [
                        t, trace, span_id, parent, name, kind, service,
                        {"service.name": service, "service.version": versions[service]},
                        attrs, int(ms * 1e6), "Error" if is_err else "Unset", "",
                    ]
                )  # fmt: skip
    columns = [list(c) for c in zip(*rows, strict=True)]
    wh.insert_columns("otel_traces", columns, _TRACE_COLUMNS)
    return len(rows)


def sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def add_deployment(
    wh: Warehouse,
    dep_id: str,
    service: str,
    version: str,
    at: datetime,
    pr: int | None = None,
    files: list[str] | None = None,
    title: str = "",
) -> str:
    commit = sha(dep_id)
    wh.insert(
        "andon_deployments",
        [(dep_id, service, version, commit, "production", at, at + timedelta(minutes=1), "success", "acme/shop", "jsonl")],
        ["DeploymentId", "Service", "Version", "CommitSha", "Environment", "StartedAt", "FinishedAt", "Status", "Repo", "Source"],
    )  # fmt: skip
    if pr is not None:
        wh.insert(
            "andon_pull_requests",
            [("acme/shop", pr, title or f"Change {pr}", "dev", at - timedelta(minutes=30), commit, files or [], f"https://example.test/pr/{pr}", [], "jsonl")],
            ["Repo", "Number", "Title", "Author", "MergedAt", "MergeCommitSha", "Files", "Url", "Labels", "Source"],
        )  # fmt: skip
    return commit


def add_gate(
    wh: Warehouse,
    gate: str,
    pr: int,
    at: datetime,
    measurements: dict[str, float],
    details: str | dict[str, Any] = "",
    verdict: str = "pass",
    environment: str = "staging",
) -> None:
    text = details if isinstance(details, str) else json.dumps(details)
    wh.insert(
        "andon_gate_verdicts",
        [(sha(f"{gate}{pr}{at}"), gate, verdict, "acme/shop", pr, "", at, environment, measurements, text, "jsonl")],
        ["VerdictId", "Gate", "Verdict", "Repo", "PrNumber", "CommitSha", "At", "Environment", "Measurements", "Details", "Source"],
    )  # fmt: skip
