"""One trace, as a waterfall of its spans (the sample traces tickets and briefs link to)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console import charts
from console.web import ConsoleWeb, Viewer
from errors import InputError, NotFoundError
from warehouse import Warehouse

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def trace_spans(wh: Warehouse, trace_id: str) -> list[dict[str, Any]]:
    """The spans of one trace, parents before children, with depth and offset from the start."""
    if not _TRACE_ID.match(trace_id):
        raise InputError("a trace id is 32 lowercase hex characters", field="trace_id")
    rows = wh.rows(
        f"SELECT SpanId, ParentSpanId, SpanName, ServiceName, SpanKind, Timestamp, Duration, "
        f"StatusCode, StatusMessage, SpanAttributes['http.route'], "
        f"SpanAttributes['http.response.status_code'], SpanAttributes['session.id'], "
        f"SpanAttributes['enduser.id'] FROM {wh.table('otel_traces')} "
        "WHERE TraceId = {t:String} ORDER BY Timestamp LIMIT 1 BY SpanId LIMIT 2000",
        {"t": trace_id},
    )
    if not rows:
        raise NotFoundError(f"no spans for trace {trace_id} (it may be older than the retention)")
    spans = {
        r[0]: {
            "span_id": r[0], "parent": r[1], "name": r[2], "service": r[3], "kind": r[4],
            "start": r[5], "duration_ms": r[6] / 1e6, "status": r[7], "message": r[8],
            "route": r[9], "http_status": r[10], "session": r[11], "user": r[12],
        }
        for r in rows
    }  # fmt: skip
    children: dict[str, list[str]] = {}
    roots = []
    for span in spans.values():
        parent = str(span["parent"])
        if parent and parent in spans:
            children.setdefault(parent, []).append(str(span["span_id"]))
        else:
            roots.append(str(span["span_id"]))
    start: datetime = min(s["start"] for s in spans.values())
    ordered: list[dict[str, Any]] = []

    def visit(span_id: str, depth: int) -> None:
        span = spans[span_id]
        span["depth"] = depth
        span["offset_ms"] = (span["start"] - start).total_seconds() * 1000
        ordered.append(span)
        for child in sorted(children.get(span_id, []), key=lambda c: spans[c]["start"]):
            visit(child, depth + 1)

    for root in sorted(roots, key=lambda r: spans[r]["start"]):
        visit(root, 0)
    return ordered


def traces_routes(web: ConsoleWeb) -> list[BaseRoute]:
    """The trace page."""

    def trace_page(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        trace_id = request.path_params["trace_id"]
        spans = trace_spans(web.ctx.warehouse, trace_id)
        bars = [
            charts.SpanBar(
                label=str(s["route"] or s["name"]),
                service=str(s["service"]),
                offset_ms=float(s["offset_ms"]),
                duration_ms=float(s["duration_ms"]),
                depth=int(s["depth"]),
                error=s["status"] == "Error",
            )
            for s in spans
        ]
        return web.render(
            request,
            "trace.html",
            viewer,
            trace_id=trace_id,
            spans=spans,
            chart=charts.waterfall(bars, title=f"Trace {trace_id}: {len(spans)} spans"),
        )

    return [Route("/traces/{trace_id}", web.page(trace_page), methods=["GET"])]
