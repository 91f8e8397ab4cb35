"""Incidents: the list, each brief with its chart and suspects, declare and resolve.

Reads and changes go through `rca.service` with the signed-in person as the actor.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from console import charts
from console.web import ConsoleWeb, Viewer, form_text, redirect
from errors import InputError
from rca import service as rca
from rca.models import Incident

SIGNAL_TEXT = {
    "latency_p95": "Slow responses (95th percentile latency)",
    "error_rate": "More failed requests",
    "throughput": "Traffic dropped",
    "new_error": "A new error appeared",
    "declared": "Declared by a person",
}
UNIT_TEXT = {"ms": "ms", "ratio": "%", "rps": "req/s"}


def _parse_since(value: str, field: str = "since") -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            f"not a date and time: {value!r} (e.g. 2026-11-21T09:30)", field=field
        ) from exc
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def incident_chart(incident: Incident) -> Any:
    """The degraded metric per minute, the onset marked, suspect deploys as events."""
    unit = incident.series_unit
    scale = 100.0 if unit in ("ratio", "share") else 1.0
    points = [(p.minute, None if p.value is None else p.value * scale) for p in incident.series]
    lead = incident.degradations[0] if incident.degradations else None
    return charts.time_series(
        points,
        title=incident.title or f"{incident.service} {incident.route}",
        unit=UNIT_TEXT.get(unit, unit),
        mark=incident.onset,
        mark_label=f"onset {incident.onset:%H:%M}",
        baseline=lead.baseline * scale if lead and lead.baseline else None,
        events=[(s.started_at, f"deploy {s.service} {s.version}") for s in incident.suspects[:4]],
    )


def _history(ctx: Any, incident_id: str) -> list[dict[str, Any]]:
    """The incident's events with their times as datetimes (for the page)."""
    events = rca.history(ctx.warehouse, incident_id)
    for event in events:
        if isinstance(event.get("at"), str):
            event["at"] = datetime.fromisoformat(str(event["at"]))
    return events


def services_seen(ctx: Any) -> list[str]:
    """Services with spans in the last 30 days of data (for the declare form)."""
    wh = ctx.warehouse
    rows = wh.rows(
        f"SELECT DISTINCT ServiceName FROM {wh.table('otel_traces')} "
        f"WHERE Timestamp >= (SELECT max(Timestamp) FROM {wh.table('otel_traces')}) - INTERVAL 30 DAY "
        "ORDER BY ServiceName LIMIT 500"
    )
    return [str(r[0]) for r in rows]


def incidents_routes(web: ConsoleWeb) -> list[BaseRoute]:
    """The incident pages and /api/v1/incidents."""
    ctx = web.ctx

    def list_page(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        status = request.query_params.get("status", "")
        found = rca.list_incidents(ctx.warehouse, status=status or None)
        return web.render(
            request,
            "incidents.html",
            viewer,
            incidents=found,
            status=status,
            signal_text=SIGNAL_TEXT,
            services=services_seen(ctx),
            open_count=sum(1 for i in found if i.status == "open"),
        )

    def incident_page(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        incident_id = request.path_params["incident_id"]
        incident = rca.get_incident(ctx.warehouse, incident_id)
        document = json.loads(rca.brief(ctx.warehouse, ctx.settings, incident_id, fmt="json"))
        return web.render(
            request,
            "incident.html",
            viewer,
            i=incident,
            brief=document.get("brief", {}),
            chart=incident_chart(incident),
            history=_history(ctx, incident_id),
            signal_text=SIGNAL_TEXT,
            unit_text=UNIT_TEXT,
        )

    def brief_html(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        text = rca.brief(
            ctx.warehouse, ctx.settings, request.path_params["incident_id"], fmt="html"
        )
        # The brief is a self-contained page with its own inline CSS: allow that, nothing else.
        return HTMLResponse(
            text,
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                "Cache-Control": "no-store",
            },
        )

    def brief_md(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        incident_id = request.path_params["incident_id"]
        text = rca.brief(ctx.warehouse, ctx.settings, incident_id, fmt="md")
        return PlainTextResponse(
            text,
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{incident_id}.md"'},
        )

    def declare_action(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        service = form_text(form, "service")
        since = _parse_since(form_text(form, "since"))
        incident = rca.declare(
            ctx.warehouse,
            ctx.settings,
            service=service,
            since=since,
            actor=viewer.actor,
            route=form_text(form, "route") or None,
            note=form_text(form, "note"),
        )
        return redirect(
            f"/incidents/{incident.id}",
            "Incident declared; andon investigated it and wrote the brief below.",
        )

    def resolve_action(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        incident = rca.resolve(
            ctx.warehouse,
            request.path_params["incident_id"],
            note=form_text(form, "note"),
            actor=viewer.actor,
        )
        return redirect(
            f"/incidents/{incident.id}", "Marked resolved. Future briefs will mention how."
        )

    # -- JSON API

    def api_list(request: Request, actor: str, body: Any) -> Any:
        p = request.query_params
        found = rca.list_incidents(
            ctx.warehouse, status=p.get("status") or None, service=p.get("service") or None
        )
        return {"incidents": [i.contract() for i in found]}

    def api_get(request: Request, actor: str, body: Any) -> Any:
        incident_id = request.path_params["incident_id"]
        return json.loads(rca.brief(ctx.warehouse, ctx.settings, incident_id, fmt="json"))

    def api_declare(request: Request, actor: str, body: Any) -> Any:
        since = body.get("since")
        if not isinstance(since, str) or not since:
            raise InputError("since is required (ISO 8601)", field="since")
        incident = rca.declare(
            ctx.warehouse,
            ctx.settings,
            service=str(body.get("service") or ""),
            since=_parse_since(since),
            actor=actor,
            route=body.get("route") or None,
            note=str(body.get("note") or ""),
        )
        return incident.contract()

    def api_resolve(request: Request, actor: str, body: Any) -> Any:
        incident = rca.resolve(
            ctx.warehouse,
            request.path_params["incident_id"],
            note=str(body.get("note") or ""),
            actor=actor,
        )
        return incident.contract()

    return [
        Route("/incidents", web.page(list_page), methods=["GET"]),
        Route("/incidents", web.page(declare_action), methods=["POST"]),
        Route("/incidents/{incident_id}", web.page(incident_page), methods=["GET"]),
        Route("/incidents/{incident_id}/brief.html", web.page(brief_html), methods=["GET"]),
        Route("/incidents/{incident_id}/brief.md", web.page(brief_md), methods=["GET"]),
        Route("/incidents/{incident_id}/resolve", web.page(resolve_action), methods=["POST"]),
        Route("/api/v1/incidents", web.api(api_list), methods=["GET"]),
        Route("/api/v1/incidents", web.api(api_declare, 201), methods=["POST"]),
        Route("/api/v1/incidents/{incident_id}", web.api(api_get), methods=["GET"]),
        Route("/api/v1/incidents/{incident_id}/resolve", web.api(api_resolve), methods=["POST"]),
    ]
