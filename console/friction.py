"""The friction explorer: each flow's steps, how many sessions reach and leave each one, by segment.

The numbers come from the same session frame the friction analysis uses (`analysis.sessions`,
`analysis.flows`, `analysis.steps`): SQL builds one row per session, Polars counts per step.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analysis.flows import (
    Flow,
    came_from,
    declared_flows,
    discover_flows,
    flow_transitions,
    siblings,
)
from analysis.models import Cluster
from analysis.sessions import discover_attributes, fetch_sessions
from analysis.steps import events, session_steps, transition_frame
from analysis.store import latest_run_id, load_clusters
from console import charts
from console.web import ConsoleWeb, Viewer
from errors import InputError
from settings import Settings
from ticketing import service as tickets
from warehouse import Warehouse

MAX_SEGMENT_VALUES = 8
_CACHE_SECONDS = 120.0


@dataclass
class SessionData:
    """The analysed window's sessions, flows and per-step frame (cached briefly)."""

    since: datetime
    until: datetime
    sessions: pl.DataFrame
    attributes: list[str]
    flows: list[Flow]
    steps: pl.DataFrame
    from_run: str | None


@dataclass
class StepRow:
    """One step of a flow for one group of sessions."""

    step: str
    reached: int
    dropped: int

    @property
    def rate(self) -> float:
        return self.dropped / self.reached if self.reached else 0.0


@dataclass
class SegmentRow:
    """One value of the chosen attribute: its sessions and drop-off at each step."""

    value: str
    sessions: int
    steps: list[StepRow] = field(default_factory=list)


def analysis_window(wh: Warehouse, settings: Settings) -> tuple[datetime, datetime, str | None]:
    """The newest analysis run's window, else the configured window ending at the newest span."""
    run = latest_run_id(wh)
    if run is not None:
        row = wh.rows(
            f"SELECT argMax(WindowStart, Version), argMax(WindowEnd, Version) "
            f"FROM {wh.table('andon_runs')} WHERE RunId = {{r:String}}",
            {"r": run},
        )
        if row and row[0][0] is not None:
            return _naive(row[0][0]), _naive(row[0][1]), run
    newest = wh.scalar(f"SELECT max(Timestamp) FROM {wh.table('otel_traces')}")
    until = _naive(newest) + timedelta(seconds=1) if newest else datetime(1970, 1, 2)
    return until - timedelta(hours=settings.analysis.window_hours), until, None


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


class FrictionExplorer:
    """Loads session data for a window once and answers per-flow, per-segment questions."""

    def __init__(self, settings: Settings, warehouse: Warehouse) -> None:
        self.settings = settings
        self.wh = warehouse
        self._cache: dict[tuple[datetime, datetime], tuple[float, SessionData]] = {}
        self._lock = threading.Lock()

    def load(self, since: datetime, until: datetime, run: str | None) -> SessionData:
        key = (since, until)
        with self._lock:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
                return hit[1]
        cfg = self.settings.analysis
        # The same attribute discovery and session frame as `analysis.engine.analyse`.
        attrs = discover_attributes(
            self.wh, since, until, max_values=cfg.max_segment_values,
            ignore=cfg.ignore_attributes, extra=cfg.segment_attributes,
        )  # fmt: skip
        sessions = fetch_sessions(self.wh, since, until, attrs, gap_minutes=cfg.session_gap_minutes)
        flows = declared_flows(cfg.flows) or discover_flows(sessions, cfg.min_flow_sessions)
        data = SessionData(
            since, until, sessions, [a.key for a in attrs], flows,
            session_steps(events(sessions)) if sessions.height else pl.DataFrame(), run,
        )  # fmt: skip
        with self._lock:
            self._cache = {
                k: v for k, v in self._cache.items() if time.monotonic() - v[0] < _CACHE_SECONDS
            }
            self._cache[key] = (time.monotonic(), data)
        return data


def funnel_rows(data: SessionData, flow: Flow, segment: dict[str, str]) -> list[StepRow]:
    """Sessions reaching each step of ``flow`` and leaving there, for one segment (or all).

    The populations are the friction analysis's (`analysis.engine.find_frictions`): at each
    step, the sessions that came by the flow's path (`analysis.flows.came_from`), less those
    that went on to another flow's next step (`analysis.flows.siblings`), so a drop-off here is
    the figure its cluster states. The goal row counts the sessions that went on to the goal.
    """
    if data.sessions.height == 0:
        return []
    attrs = data.sessions.select("session_id", *data.attributes)
    for key, value in segment.items():
        attrs = attrs.filter(pl.col(key) == value)
    units = flow_transitions(data.flows)
    rows: list[StepRow] = []
    for step, nxt in flow.transitions():
        tf = transition_frame(
            data.steps,
            attrs,
            step,
            nxt,
            siblings(units, step, nxt),
            came_from(data.flows, step, nxt),
        )
        if segment:
            tf = tf.join(attrs.select("session_id"), on="session_id", how="semi")
        rows.append(StepRow(step, tf.height, int(tf["dropped"].sum()) if tf.height else 0))
    last = rows[-1] if rows else None
    rows.append(StepRow(flow.goal, last.reached - last.dropped if last else 0, 0))
    return rows


def by_segment(data: SessionData, flow: Flow, attribute: str) -> list[SegmentRow]:
    """Per value of ``attribute`` (most sessions first): drop-off at each step of ``flow``."""
    if attribute not in data.attributes or data.sessions.height == 0:
        return []
    values = (
        data.sessions.filter(pl.col(attribute).is_not_null() & (pl.col(attribute) != ""))
        .group_by(attribute)
        .len()
        .sort("len", descending=True)
        .head(MAX_SEGMENT_VALUES)
    )
    out = []
    for value, count in values.iter_rows():
        out.append(
            SegmentRow(str(value), int(count), funnel_rows(data, flow, {attribute: str(value)}))
        )
    return out


def flow_clusters(wh: Warehouse, run: str | None, flow: str) -> list[Cluster]:
    """The latest run's clusters in this flow, highest impact first."""
    if run is None:
        return []
    return [c for c in load_clusters(wh, run) if c.flow == flow]


def friction_routes(web: ConsoleWeb) -> list[BaseRoute]:
    """The friction explorer page and /api/v1/flows."""
    ctx = web.ctx
    explorer = FrictionExplorer(ctx.settings, ctx.warehouse)

    def gather(request: Request) -> dict[str, Any]:
        since, until, run = analysis_window(ctx.warehouse, ctx.settings)
        data = explorer.load(since, until, run)
        params = request.query_params
        flow_name = params.get("flow") or (data.flows[0].name if data.flows else "")
        flow = next((f for f in data.flows if f.name == flow_name), None)
        if flow_name and flow is None:
            raise InputError(f"no flow called {flow_name!r} in this window", field="flow")
        attribute = params.get("by", "")
        if attribute and attribute not in data.attributes:
            raise InputError(f"{attribute!r} is not a segment attribute in this window", field="by")
        segment: dict[str, str] = {}
        if attribute and params.get("value"):
            segment = {attribute: params["value"]}
        rows = funnel_rows(data, flow, segment) if flow else []
        return {
            "data": data,
            "flow": flow,
            "attribute": attribute,
            "segment": segment,
            "rows": rows,
            "segments": by_segment(data, flow, attribute) if flow and attribute else [],
            "clusters": flow_clusters(ctx.warehouse, data.from_run, flow.name) if flow else [],
        }

    def page(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        found = gather(request)
        flow, rows = found["flow"], found["rows"]
        who = ", ".join(f"{k}={v}" for k, v in found["segment"].items()) or "all sessions"
        chart = (
            charts.funnel(
                [charts.FunnelStep(r.step, r.reached, r.dropped) for r in rows],
                title=f"Flow {flow.name}, {who}: sessions reaching each step",
            )
            if flow
            else None
        )
        segments: list[SegmentRow] = found["segments"]
        width = len(segments[0].steps) - 1 if segments else 0
        worst_rates = [max(s.steps[i].rate for s in segments) for i in range(width)]
        # Not every cluster becomes a ticket (policy thresholds, merged themes): link real ones.
        ticket_of = {
            cid: t.id for t in tickets.list_tickets(ctx.warehouse) for cid in t.cluster_ids
        }
        return web.render(
            request, "friction.html", viewer, chart=chart, who=who, worst_rates=worst_rates,
            ticket_of=ticket_of, **found,
        )  # fmt: skip

    def api_flows(request: Request, actor: str, body: Any) -> Any:
        found = gather(request)
        data: SessionData = found["data"]
        return {
            "window": {"since": data.since, "until": data.until, "run_id": data.from_run},
            "flows": [{"name": f.name, "steps": list(f.steps), "goal": f.goal, "declared": f.declared} for f in data.flows],
            "segment_attributes": data.attributes,
            "flow": found["flow"].name if found["flow"] else None,
            "steps": [{"step": r.step, "sessions": r.reached, "dropped": r.dropped, "dropoff_rate": round(r.rate, 4)} for r in found["rows"]],
            "by_segment": [
                {"value": s.value, "sessions": s.sessions, "steps": [{"step": r.step, "sessions": r.reached, "dropoff_rate": round(r.rate, 4)} for r in s.steps]}
                for s in found["segments"]
            ],
        }  # fmt: skip

    return [
        Route("/friction", web.page(page), methods=["GET"]),
        Route("/api/v1/flows", web.api(api_flows), methods=["GET"]),
    ]
