"""`andon demo`: a day of the built-in shop, through the real OTLP path, into andon, analysed.

The demo is a list of steps, each a small function taking the `DemoState` (so more steps can be
wired in as the pipeline grows):

1. simulate   one day of the shop through the OpenTelemetry SDK (spans, ERROR logs), tickets,
              change events and the ground-truth manifest, written to ``.andon/demo/``;
2. send       start andon's receivers in this process and send everything with the SDK's
              OTLP/HTTP exporters; check every span landed in the warehouse;
3. ingest     support tickets and change events through andon's ingest library (the same code
              as ``andon ingest tickets|changes``);
4. analyse    one pipeline cycle over the simulated day (``andon run``);
5. summary    what was injected, what andon found, where to look next.

Progress and timings go to the ``note`` callback (stderr in the CLI).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from errors import AndonError
from simulator.api import Simulation, simulate
from simulator.writers import send_otlp, write_files
from warehouse import Warehouse

Note = Callable[[str], None]
DEMO_APP = "shop"
DEMO_SESSIONS = 3000
DEMO_SEED = 7


@dataclass
class DemoState:
    """What the steps share."""

    settings: Any  # settings.Settings
    warehouse: Warehouse
    out_dir: Path
    note: Note
    sessions: int = DEMO_SESSIONS
    seed: int = DEMO_SEED
    sim: Simulation | None = None
    files: dict[str, Path] = field(default_factory=dict)
    already_loaded: bool = False
    console_hint: str = ""
    results: dict[str, Any] = field(default_factory=dict)


Step = tuple[str, Callable[[DemoState], str]]


def _progress(note: Note, what: str) -> Callable[[int, int], None]:
    last = [-1]

    def report(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != last[0]:
            last[0] = tenth
            note(f"      {what}: {done:,}/{total:,} ({done * 100 // max(total, 1)}%)")

    return report


def step_simulate(state: DemoState) -> str:
    """Simulate the shop's day and write its files."""
    sim = simulate(
        DEMO_APP,
        seed=state.seed,
        sessions=state.sessions,
        progress=_progress(state.note, "sessions"),
    )
    state.sim = sim
    state.files = write_files(sim, state.out_dir, telemetry=False)
    m = sim.manifest
    return (
        f"{m.counts.sessions:,} sessions, {m.counts.spans:,} spans, {m.counts.logs:,} ERROR logs, "
        f"{m.counts.tickets} tickets, {m.counts.change_events} change events -> {state.out_dir}"
    )


def _spans_in_window(state: DemoState) -> int:
    assert state.sim is not None
    m = state.sim.manifest
    return int(
        state.warehouse.scalar(
            f"SELECT count() FROM {state.warehouse.table('otel_traces')} "
            # sessions that start just before the window's end run a little past it
            "WHERE Timestamp >= {start:DateTime64(9)} "
            "AND Timestamp < {end:DateTime64(9)} + INTERVAL 6 HOUR "
            "AND ResourceAttributes['service.namespace'] = {app:String}",
            {
                "start": m.window_start.replace(tzinfo=None),
                "end": m.window_end.replace(tzinfo=None),
                "app": m.app,
            },
        )
        or 0
    )


def step_send(state: DemoState) -> str:
    """Start the receivers in this process and send the telemetry over OTLP/HTTP."""
    from server.runtime import start_server

    assert state.sim is not None
    if _spans_in_window(state) > 0:
        state.already_loaded = True
        return "the warehouse already holds this demo's telemetry: not sending it twice"
    # only the receivers are needed here: no scheduled jobs competing with the demo's own run
    settings = state.settings.model_copy(
        update={"scheduler": state.settings.scheduler.model_copy(update={"enabled": False})}
    )
    running = start_server(settings, state.warehouse, ingest_port=0, console_port=0)
    try:
        state.note(f"      receiver listening on {running.ingest_url}")
        spans, logs = send_otlp(
            state.sim, running.ingest_url, progress=_progress(state.note, "spans+logs sent")
        )
    finally:
        running.stop()
    stored = _spans_in_window(state)
    if stored != spans:
        raise AndonError(f"sent {spans:,} spans but the warehouse holds {stored:,}")
    return f"{spans:,} spans and {logs:,} logs sent over OTLP/HTTP and stored"


def ingest_side_files(
    warehouse: Warehouse, settings: Any, files: dict[str, Path], source: str = "simulated"
) -> tuple[Any, Any]:
    """Ingest a simulation's tickets and change events with andon's ingest library (the same
    code as ``andon ingest tickets|changes``); returns both `IngestReport`s."""
    from ingest import changes as change_ingest
    from ingest import tickets as ticket_ingest

    tickets = ticket_ingest.ingest_file(
        warehouse, files["tickets_jsonl"], source=source, settings=settings.collectors
    )
    changes = change_ingest.ingest_file(warehouse, files["changes"])
    return tickets, changes


def step_ingest(state: DemoState) -> str:
    """Ingest tickets and change events through andon's ingest library."""
    tickets, changes = ingest_side_files(state.warehouse, state.settings, state.files, "demo")
    state.results["tickets"] = tickets.to_dict()
    state.results["changes"] = changes.to_dict()
    return (
        f"tickets: {tickets.stored} stored, {tickets.duplicates} already there, "
        f"{len(tickets.rejected)} rejected; change events: {changes.stored} stored, "
        f"{changes.duplicates} already there, {len(changes.rejected)} rejected"
    )


def step_analyse(state: DemoState) -> str:
    """One pipeline cycle (`andon run`) over the simulated day."""
    from pipeline.cycle import run_cycle

    assert state.sim is not None
    m = state.sim.manifest
    since = m.window_start.replace(tzinfo=None)
    until = m.window_end.replace(tzinfo=None)
    # the demo's clock is the end of the simulated day: same data, same run, same output
    result = run_cycle(state.settings, state.warehouse, since, until, until, trigger="demo")
    state.results["run"] = result.to_json()
    return (
        f"run {result.run_id}: {_n(len(result.clusters), 'cluster')}, "
        f"{_n(len(result.tickets), 'ticket')}, {_n(len(result.incidents), 'incident')}"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _found_friction(friction: Any, clusters: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cluster that reports this friction: same kind and step, overlapping segment."""
    wanted = set(friction.segment.items())
    for cluster in clusters:
        if cluster.get("kind") != friction.kind or cluster.get("step") != friction.step:
            continue
        got = set((cluster.get("segment") or {}).items())
        if wanted & got or wanted == got:
            return cluster
    return None


def _found_incident(incident: Any, found: list[dict[str, Any]]) -> dict[str, Any] | None:
    for item in found:
        origin = item.get("origin") or {}
        if incident.service in (item.get("service"), origin.get("service")):
            return item
    return None


def summary_lines(state: DemoState) -> list[str]:
    """What was injected (the ground truth), what andon found, and where to look next."""
    assert state.sim is not None
    m = state.sim.manifest
    run = state.results.get("run")
    clusters = run["clusters"] if run else []
    incidents = run["incidents"] if run else []
    lines = [f"Injected into the {m.app} ({m.window_start:%Y-%m-%d}, seed {m.seed}):"]
    for f in m.frictions:
        who = ", ".join(f"{k}={v}" for k, v in f.segment.items()) or "everyone"
        lines.append(
            f"  - {f.kind:<13} {f.flow} {f.step} for {who}: {f.metric} "
            f"{f.observed_value} vs {f.observed_baseline} ({f.affected_sessions} sessions)"
        )
        if run is not None:
            hit = _found_friction(f, clusters)
            lines.append(
                f"      found: {hit['id']} {hit.get('title', '')}".rstrip()
                if hit
                else "      not found by this run"
            )
    for i in m.incidents:
        lines.append(
            f"  - incident      {i.service} {', '.join(i.routes)} since {i.onset:%H:%M} UTC "
            f"({i.signal}); culprit {i.culprit_deployment_id} (PR #{i.pr_number}, v{i.version})"
        )
        if run is not None:
            hit = _found_incident(i, incidents)
            if hit is None:
                lines.append("      not found by this run")
            else:
                suspects = hit.get("suspects") or []
                top = suspects[0].get("deployment_id") if suspects else None
                verdict = (
                    "culprit ranked first"
                    if top == i.culprit_deployment_id
                    else (f"top suspect {top}" if top else "no suspects")
                )
                lines.append(f"      found: {hit.get('id')} ({verdict})")
    if run is not None:
        lines.append(
            f"The run ({run['run_id']}) produced {_n(len(clusters), 'cluster')}, "
            f"{_n(len(run['tickets']), 'drafted ticket')} and {_n(len(incidents), 'incident')}."
        )
    lines += [
        "",
        f"Files: {state.out_dir} (manifest.json is the ground truth)",
        "Where to look next:",
        "  andon status                  what the warehouse holds",
        f"  andon run --since {m.window_start:%Y-%m-%dT%H:%M:%SZ} --until "
        f"{m.window_end:%Y-%m-%dT%H:%M:%SZ}   the analysis again",
        "  andon tickets list            the review queue of drafted tickets",
        "  andon incidents list          detected incidents and their briefs",
        "",
    ]
    from console.access import how_to_open

    lines += how_to_open(state.settings)
    return lines


DEFAULT_STEPS: list[Step] = [
    ("Simulating a day of the shop", step_simulate),
    ("Sending it through OTLP/HTTP into the warehouse", step_send),
    ("Ingesting support tickets and change events", step_ingest),
    ("Analysing the day (andon run)", step_analyse),
]


def run_demo(state: DemoState, steps: list[Step] | None = None) -> DemoState:
    """Run the demo steps in order, noting each one's outcome and duration."""
    chosen = DEFAULT_STEPS if steps is None else steps
    for n, (title, fn) in enumerate(chosen, start=1):
        state.note(f"[{n}/{len(chosen)}] {title} ...")
        began = time.perf_counter()
        outcome = fn(state)
        state.note(f"      {outcome} ({time.perf_counter() - began:.1f} s)")
    return state
