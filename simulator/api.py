"""The simulator's programmatic API (what the demo, the tests, the benchmarks and scorers call).

    from simulator.api import (
        load_app, simulate, random_problems, write_files, send_otlp, load_warehouse, bulk_load,
    )

    app = load_app("shop")                      # built-in name ("shop", "saas") or a .toml path
    sim = simulate(app, seed=7, sessions=500)   # -> Simulation (SDK path, all in memory)
    sim.spans        # list[ReadableSpan], exactly as the OpenTelemetry SDK finished them
    sim.logs         # list[ReadableLogRecord] (ERROR logs with trace context)
    sim.tickets      # list[dict]: id, created_at, subject, body, channel, tags, user_id, ...
    sim.changes      # list[dict]: pull_request / deployment / gate_verdict events
    sim.manifest     # simulator.manifest.Manifest: the ground truth

    write_files(sim, "out/")                    # traces/logs OTLP JSON lines, tickets.csv/.jsonl,
                                                # changes.jsonl, manifest.json
    send_otlp(sim, "http://127.0.0.1:4318")     # real OTLPSpanExporter / OTLPLogExporter
    load_warehouse(sim, warehouse)              # otel_traces / otel_logs rows, Collector mapping

    # volume: stream straight into the warehouse without keeping spans in memory
    sim = bulk_load(app, warehouse, seed=7, sessions=300_000)

    # evaluation: a different incident and frictions per seed, or none at all
    problems = random_problems(app, seed=3)     # ProblemSet
    sim = simulate(app, seed=3, problems=problems)
    sim = simulate(app, seed=3, problems=ProblemSet.none())   # clean scenario

Same app, seed, size and problems -> identical spans, logs, tickets, changes and manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.bulk import produce_in_background
from simulator.changes import ChangeBuilder
from simulator.generator import Generator
from simulator.loader import builtin_apps, load_app
from simulator.manifest import Counts, Manifest
from simulator.problems import random_problems
from simulator.records import LogRecordSpec, ResourceTable, SpanRecord
from simulator.sdk import SdkEmitter
from simulator.spec import AppSpec, ProblemSet
from simulator.tickets import TicketWriter
from simulator.truth import build_manifest
from simulator.writers import bulk_load_rows, load_warehouse, send_otlp, write_files

BACKGROUND_FROM_SESSIONS = 20_000
Progress = Callable[[int, int], None]
"""Called as progress(sessions_done, sessions_total) while generating."""


@dataclass
class Simulation:
    """Everything one simulation produced."""

    app: AppSpec
    seed: int
    manifest: Manifest
    spans: list[Any] = field(default_factory=list)  # ReadableSpan
    logs: list[Any] = field(default_factory=list)  # ReadableLogRecord
    tickets: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    span_count: int = 0
    log_count: int = 0


def _resolve(app: AppSpec | str | Path) -> AppSpec:
    return app if isinstance(app, AppSpec) else load_app(app)


def make_generator(
    app: AppSpec | str | Path,
    *,
    seed: int | None = None,
    sessions: int | None = None,
    start: datetime | None = None,
    hours: float | None = None,
    problems: ProblemSet | None = None,
) -> Generator:
    """A `Generator` with the app's defaults for anything not given."""
    spec = _resolve(app)
    return Generator(
        spec,
        problems if problems is not None else spec.problems,
        seed=spec.seed if seed is None else seed,
        sessions=spec.sessions if sessions is None else sessions,
        start=spec.start if start is None else start,
        hours=spec.hours if hours is None else hours,
    )


def complete(gen: Generator, spans: int, logs: int) -> Simulation:
    """Tickets, change events and the manifest, once every session of ``gen`` has been planned
    (``spans``/``logs``: how many were produced, for the manifest's counts)."""
    changes = ChangeBuilder(gen.app, gen.timeline, gen.seed)
    change_events = changes.events()
    writer = TicketWriter(gen.app, gen.problems.tickets, gen.seed, gen.end)
    for stats in gen.frictions:
        writer.friction(stats)
    for incident in gen.incidents:
        steps = gen.app.steps_calling(incident.incident.deploy.service, incident.incident.routes)
        if steps:
            writer.incident(incident, steps[0])
    writer.background(gen.start, gen.hours)
    tickets = writer.finish()
    counts = Counts(
        sessions=gen.sessions,
        users=gen.n_users,
        spans=spans,
        logs=logs,
        tickets=len(tickets),
        change_events=len(change_events),
    )
    manifest = build_manifest(gen, changes, change_events, tickets, counts)
    return Simulation(
        app=gen.app,
        seed=gen.seed,
        manifest=manifest,
        tickets=[t.as_dict() for t in tickets],
        changes=change_events,
        span_count=spans,
        log_count=logs,
    )


def simulate(
    app: AppSpec | str | Path,
    *,
    seed: int | None = None,
    sessions: int | None = None,
    start: datetime | None = None,
    hours: float | None = None,
    problems: ProblemSet | None = None,
    progress: Progress | None = None,
) -> Simulation:
    """Simulate ``app`` through the real OpenTelemetry SDK, keeping everything in memory.

    Defaults come from the app description (seed, sessions, start, hours, problems). For more
    than a few hundred thousand spans use `bulk_load`, which streams.
    """
    gen = make_generator(
        app, seed=seed, sessions=sessions, start=start, hours=hours, problems=problems
    )
    emitter = SdkEmitter(gen.resources)
    step = max(1, gen.sessions // 50)
    for index in range(gen.sessions):
        spans, logs = gen.session(index)
        emitter.emit(spans, logs)
        if progress is not None and (index + 1) % step == 0:
            progress(index + 1, gen.sessions)
    if progress is not None:
        progress(gen.sessions, gen.sessions)
    finished_spans = emitter.finished_spans()
    finished_logs = emitter.finished_logs()
    sim = complete(gen, len(finished_spans), len(finished_logs))
    sim.spans = finished_spans
    sim.logs = finished_logs
    return sim


def plan_records(
    gen: Generator, chunk_sessions: int = 2000
) -> Iterator[tuple[list[SpanRecord], list[LogRecordSpec], int]]:
    """Yield (spans, logs, sessions_done) planned records, ``chunk_sessions`` at a time."""
    for first in range(0, gen.sessions, chunk_sessions):
        spans: list[SpanRecord] = []
        logs: list[LogRecordSpec] = []
        for s, lg in gen.iter_sessions(first, first + chunk_sessions):
            spans.extend(s)
            logs.extend(lg)
        yield spans, logs, min(gen.sessions, first + chunk_sessions)


def bulk_load(
    app: AppSpec | str | Path,
    warehouse: Any,
    *,
    seed: int | None = None,
    sessions: int | None = None,
    start: datetime | None = None,
    hours: float | None = None,
    problems: ProblemSet | None = None,
    chunk_sessions: int = 4000,
    background: bool | None = None,
    progress: Progress | None = None,
) -> Simulation:
    """Generate and insert straight into otel_traces/otel_logs, chunk by chunk (for volume).

    Rows are identical to what `load_warehouse(simulate(...))` writes (a test proves it); spans
    are not kept in memory, so ``sim.spans``/``sim.logs`` are empty and counts are set.
    ``background``: plan and build rows in a second process while this one inserts (two cores
    busy instead of one); the output is the same either way. Default: only for volumes where
    that pays for starting a process (``BACKGROUND_FROM_SESSIONS`` sessions and more).
    """
    spec = _resolve(app)
    size = spec.sessions if sessions is None else sessions
    if background is None:
        background = size >= BACKGROUND_FROM_SESSIONS
    if background:
        options = {"seed": seed, "sessions": sessions, "start": start, "hours": hours}
        for kind, item in produce_in_background(spec, problems, options, chunk_sessions):
            if kind == "done":
                return item
            spans_table, logs_table, done, total = item
            warehouse.insert_arrow("otel_traces", spans_table)
            warehouse.insert_arrow("otel_logs", logs_table)
            if progress is not None:
                progress(done, total)
        raise RuntimeError("the simulation process ended without a result")
    gen = make_generator(
        spec, seed=seed, sessions=sessions, start=start, hours=hours, problems=problems
    )
    spans_total = 0
    logs_total = 0
    for spans, logs, done in plan_records(gen, chunk_sessions):
        bulk_load_rows(warehouse, spans, logs, gen.resources)
        spans_total += len(spans)
        logs_total += len(logs)
        if progress is not None:
            progress(done, gen.sessions)
    return complete(gen, spans_total, logs_total)


__all__ = [
    "Progress",
    "ResourceTable",
    "Simulation",
    "builtin_apps",
    "bulk_load",
    "complete",
    "load_app",
    "load_warehouse",
    "make_generator",
    "plan_records",
    "random_problems",
    "send_otlp",
    "simulate",
    "write_files",
]
