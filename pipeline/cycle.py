"""One batch cycle over a window: a fixed sequence of stages, recorded as a run.

    result = run_cycle(settings, warehouse, since, until, now)
    result.run_id, result.clusters, result.tickets, result.incidents, result.timings

Each stage is a function ``stage(ctx: CycleContext) -> None`` that reads what earlier stages
left in the context and adds its own output (``ctx.clusters``, ``ctx.tickets``,
``ctx.incidents``, ``ctx.outputs``). `STAGES` lists them in order; to add a stage, write its
function in your own package and add ONE entry to `STAGES` at the place marked for it:

    derive_errors      ingest: error events from span exceptions and ERROR logs
    infer_deployments  ingest: deployments inferred from new service.version values
    analyse            analysis: friction clusters, error groups, ticket themes (ranked)
    draft_tickets      ticketing: tickets drafted from clusters          (engineer E adds it)
    detect_incidents   rca: incidents and briefs                          (engineer F adds it)

A stage that raises fails the run: the run is recorded as ``failed`` with the error, then the
error propagates. Every stage's duration goes to ``timings`` and to the run record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from analysis.engine import analyse
from analysis.models import Cluster, TicketTheme
from analysis.store import save_clusters, save_themes
from errors import InputError
from ingest.deploy_inference import infer_deployments
from ingest.errors import derive_errors
from pipeline.runs import code_version, new_run_id, record_finished, record_started
from rca.stage import detect_incidents_stage
from settings import Settings
from ticketing.stage import draft_tickets_stage
from warehouse import Warehouse


@dataclass
class CycleContext:
    """What stages share: inputs (settings, warehouse, window, clock) and outputs so far."""

    settings: Settings
    warehouse: Warehouse
    since: datetime
    until: datetime
    now: datetime
    run_id: str
    clusters: list[Cluster] = field(default_factory=list)
    themes: list[TicketTheme] = field(default_factory=list)
    tickets: list[Any] = field(default_factory=list)
    incidents: list[Any] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


Stage = Callable[[CycleContext], None]


class Window(BaseModel):
    """The analysed time range [since, until), UTC."""

    since: datetime
    until: datetime


class CycleResult(BaseModel):
    """What one cycle produced; `to_json` is exactly what ``andon run --json`` prints."""

    run_id: str
    window: Window
    status: str = "succeeded"
    code_version: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    clusters: list[Cluster] = Field(default_factory=list)
    themes: list[TicketTheme] = Field(default_factory=list)
    tickets: list[Any] = Field(default_factory=list)
    incidents: list[Any] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"run_id", "clusters", "tickets", "incidents"}`` plus the window and timings."""
        return {
            "run_id": self.run_id,
            "window": {"since": _iso(self.window.since), "until": _iso(self.window.until)},
            "clusters": [c.model_dump(mode="json") for c in self.clusters],
            "tickets": [_as_json(t) for t in self.tickets],
            "incidents": [_as_json(i) for i in self.incidents],
            "themes": [t.model_dump(mode="json") for t in self.themes],
            "timings": self.timings,
        }


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds") + "Z"


def _as_json(item: Any) -> Any:
    return item.model_dump(mode="json") if isinstance(item, BaseModel) else item


# -- stages ------------------------------------------------------------------------------------


def derive_errors_stage(ctx: CycleContext) -> None:
    """Error events from span exceptions and ERROR logs of the window (idempotent)."""
    ctx.outputs["errors_derived"] = derive_errors(ctx.warehouse, ctx.since, ctx.until)


def infer_deployments_stage(ctx: CycleContext) -> None:
    """Deployments inferred from new service.version values in the window (idempotent)."""
    ctx.outputs["deployments_inferred"] = infer_deployments(ctx.warehouse, ctx.since, ctx.until)


def analyse_stage(ctx: CycleContext) -> None:
    """Friction clusters, error groups and ticket themes over the window, ranked by impact."""
    result = analyse(ctx.warehouse, ctx.settings.analysis, ctx.since, ctx.until, ctx.now)
    ctx.clusters = result.clusters
    ctx.themes = result.themes
    for name, seconds in result.timings.items():
        ctx.timings[f"analyse.{name}"] = seconds
    save_clusters(ctx.warehouse, ctx.run_id, (ctx.since, ctx.until), ctx.clusters)
    save_themes(ctx.warehouse, ctx.run_id, ctx.themes)
    ctx.outputs["clusters"] = [c.id for c in ctx.clusters]
    ctx.outputs["themes"] = len(ctx.themes)
    ctx.outputs["sessions"] = result.sessions


STAGES: list[tuple[str, Stage]] = [
    ("derive_errors", derive_errors_stage),
    ("infer_deployments", infer_deployments_stage),
    ("analyse", analyse_stage),
    ("draft_tickets", draft_tickets_stage),
    ("detect_incidents", detect_incidents_stage),
]


def default_window(until: datetime, hours: float) -> tuple[datetime, datetime]:
    """``[until - hours, until)``."""
    return until - timedelta(hours=hours), until


def run_cycle(
    settings: Settings,
    warehouse: Warehouse,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    *,
    trigger: str = "cli",
    stages: list[tuple[str, Stage]] | None = None,
) -> CycleResult:
    """Run every stage over [since, until) and record the run; returns what it produced.

    ``until`` defaults to ``now`` and ``since`` to ``until - analysis.window_hours``. Times are
    naive UTC. The same window over the same data gives the same clusters (ids included).
    """
    until = until or now
    since = since or default_window(until, settings.analysis.window_hours)[0]
    if since >= until:
        raise InputError(
            f"empty window: since {since.isoformat()} is not before until {until.isoformat()}",
            field="since",
        )
    parameters = {"analysis": settings.analysis.model_dump(mode="json")}
    run_id = new_run_id(since, until, now, parameters)
    ctx = CycleContext(settings, warehouse, since, until, now, run_id)
    record_started(warehouse, run_id, (since, until), now, parameters=parameters, trigger=trigger)
    started = time.perf_counter()
    error = ""
    try:
        for name, stage in stages if stages is not None else STAGES:
            t0 = time.perf_counter()
            stage(ctx)
            ctx.timings[name] = round(time.perf_counter() - t0, 3)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        ctx.timings["total"] = round(time.perf_counter() - started, 3)
        finished = now + timedelta(seconds=ctx.timings["total"])
        record_finished(
            warehouse, run_id, (since, until), now, finished, parameters=parameters,
            trigger=trigger, timings=ctx.timings,
            outputs={**ctx.outputs, "tickets": len(ctx.tickets), "incidents": len(ctx.incidents)},
            error=error,
        )  # fmt: skip
    return CycleResult(
        run_id=run_id,
        window=Window(since=since, until=until),
        code_version=code_version(),
        parameters=parameters,
        clusters=ctx.clusters,
        themes=ctx.themes,
        tickets=ctx.tickets,
        incidents=ctx.incidents,
        timings=ctx.timings,
    )
