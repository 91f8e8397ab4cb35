"""The review queue: tickets andon drafted, with their evidence; approve, edit, reject, export.

Every action goes through `ticketing.service` with the signed-in reviewer as the actor, so the
ticket's history records who did what and why.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console import charts
from console.web import ConsoleWeb, Viewer, form_text, redirect
from errors import InputError
from ticketing import service as tickets
from ticketing.figures import metric_name, metric_value
from ticketing.models import PRIORITIES, STATUSES, Ticket
from warehouse import Warehouse

KIND_TEXT = {
    "dropoff": "Users drop off",
    "retry": "Users retry",
    "error_abandon": "Users give up after an error",
    "slow_step": "A step is slow",
    "error_group": "Errors",
    "ticket_theme": "Support tickets about one problem",
}
KINDS = list(KIND_TEXT)
STATUS_TEXT = {
    "proposed": "waiting for review",
    "edited": "edited, waiting for review",
    "approved": "approved, not yet exported",
    "rejected": "rejected",
    "exported": "exported to the tracker",
}
WAITING = "waiting"
ACTION_TEXT = {
    "proposed": "Drafted by andon",
    "evidence_updated": "Evidence updated by a newer analysis",
    "reproposed": "Proposed again (impact grew)",
    "approved": "Approved",
    "auto_approved": "Approved automatically by policy",
    "rejected": "Rejected",
    "edited": "Edited",
    "exported": "Exported",
}


def queue(wh: Warehouse, status: str, priority: str | None, kind: str | None) -> list[Ticket]:
    """Tickets for the queue page; ``status`` 'waiting' means proposed or edited."""
    if kind and kind not in KIND_TEXT:
        raise InputError(f"unknown kind {kind!r}", field="kind")
    if status == WAITING:
        found = [
            *tickets.list_tickets(wh, status="proposed", priority=priority, kind=kind),
            *tickets.list_tickets(wh, status="edited", priority=priority, kind=kind),
        ]
        order = {p: i for i, p in enumerate(PRIORITIES)}
        return sorted(found, key=lambda t: (order[t.priority], -t.impact.score, t.id))
    return tickets.list_tickets(wh, status=status or None, priority=priority, kind=kind)


def status_counts(wh: Warehouse) -> dict[str, int]:
    """How many tickets are in each status."""
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for ticket in tickets.list_tickets(wh):
        counts[ticket.status] = counts.get(ticket.status, 0) + 1
    return counts


def support_tickets(wh: Warehouse, ids: list[str]) -> list[dict[str, Any]]:
    """Subject, channel and opening of the linked support tickets (newest version of each)."""
    if not ids:
        return []
    rows = wh.rows(
        f"SELECT TicketId, Subject, substring(Body, 1, 280), Channel, CreatedAt, Source "
        f"FROM {wh.table('andon_support_tickets')} WHERE TicketId IN {{ids:Array(String)}} "
        "ORDER BY UpdatedAt DESC LIMIT 1 BY TicketId",
        {"ids": ids[:50]},
    )
    found = {
        r[0]: {"id": r[0], "subject": r[1], "body": r[2], "channel": r[3], "created_at": r[4], "source": r[5]}
        for r in rows
    }  # fmt: skip
    return [found.get(i, {"id": i, "subject": "", "body": "", "channel": "", "created_at": None, "source": ""}) for i in ids]  # fmt: skip


def impact_chart(ticket: Ticket) -> Any:
    """The affected group's metric next to everyone else's, as bars."""
    impact = ticket.impact
    unit = "%" if "rate" in impact.metric or "share" in impact.metric else ""
    scale = 100.0 if unit == "%" else 1.0
    if impact.metric.endswith("_ms"):
        unit = "ms"
    who = ", ".join(f"{k}={v}" for k, v in impact.segment.items()) or "affected sessions"
    return charts.bars(
        [(who, impact.value * scale), ("everyone else (baseline)", impact.baseline * scale)],
        title=f"{metric_name(impact.metric)}: {who} against the baseline",
        unit=unit,
        highlight=[who],
    )


def tickets_routes(web: ConsoleWeb) -> list[BaseRoute]:
    """The review queue pages and /api/v1/tickets."""
    ctx = web.ctx

    def queue_page(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        params = request.query_params
        status = params.get("status", WAITING)
        priority = params.get("priority") or None
        kind = params.get("kind") or None
        if status not in (WAITING, "", *STATUSES):
            raise InputError(f"unknown status {status!r}", field="status")
        if priority and priority not in PRIORITIES:
            raise InputError(f"unknown priority {priority!r}", field="priority")
        found = queue(ctx.warehouse, status, priority, kind)
        return web.render(
            request,
            "tickets.html",
            viewer,
            tickets=found,
            counts=status_counts(ctx.warehouse),
            status=status,
            priority=priority or "",
            kind=kind or "",
            statuses=list(STATUSES),
            priorities=list(PRIORITIES),
            kinds=KINDS,
            kind_text=KIND_TEXT,
            status_text=STATUS_TEXT,
            metric_name=metric_name,
            metric_value=metric_value,
        )

    def ticket_page(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        ticket = tickets.get_ticket(ctx.warehouse, request.path_params["ticket_id"])
        return web.render(
            request,
            "ticket.html",
            viewer,
            t=ticket,
            history=tickets.history(ctx.warehouse, ticket.id),
            support=support_tickets(ctx.warehouse, ticket.linked_support_tickets),
            impact_chart=impact_chart(ticket),
            kind_text=KIND_TEXT,
            status_text=STATUS_TEXT,
            action_text=ACTION_TEXT,
            priorities=list(PRIORITIES),
            metric_name=metric_name,
            metric_value=metric_value,
            export_target=ctx.settings.ticketing.default_export_target,
        )

    def approve_action(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        ticket_id = request.path_params["ticket_id"]
        ticket = tickets.approve(
            ctx.warehouse, ticket_id, actor=viewer.actor, reason=form_text(form, "reason") or None
        )
        target = ctx.settings.ticketing.default_export_target
        return redirect(
            f"/tickets/{ticket.id}",
            f"Approved. It will be exported to {target} on the next export run, or use “Export now”.",
        )

    def reject_action(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        reason = form_text(form, "reason")
        if not reason:
            raise InputError(
                "say why you reject this ticket (it helps andon learn what matters)", field="reason"
            )
        ticket = tickets.reject(
            ctx.warehouse, request.path_params["ticket_id"], actor=viewer.actor, reason=reason
        )
        return redirect(
            f"/tickets/{ticket.id}", "Rejected. It leaves the queue unless its impact grows."
        )

    def edit_action(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        current = tickets.get_ticket(ctx.warehouse, request.path_params["ticket_id"])
        changes: dict[str, Any] = {}
        for name in ("title", "problem", "affected", "priority"):
            value = form_text(form, name)
            if value and value != getattr(current, name):
                changes[name] = value
        scope = [
            line.strip() for line in form_text(form, "suggested_scope").splitlines() if line.strip()
        ]
        if scope and scope != current.suggested_scope:
            changes["suggested_scope"] = scope
        if not changes:
            return redirect(f"/tickets/{current.id}", "Nothing changed.", "warn")
        ticket = tickets.edit(
            ctx.warehouse,
            current.id,
            actor=viewer.actor,
            changes=changes,
            reason=form_text(form, "reason") or None,
        )
        note = (
            ""
            if ticket.grounding.passed
            else " Careful: the new text states figures the evidence does not support (see below)."
        )
        return redirect(
            f"/tickets/{ticket.id}",
            f"Saved your changes; the ticket is back in review.{note}",
            "ok" if ticket.grounding.passed else "warn",
        )

    def export_action(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        results = tickets.export(
            ctx.warehouse,
            ctx.settings.ticketing,
            request.path_params["ticket_id"],
            actor=viewer.actor,
        )
        where = ", ".join(f"{r.target} ({r.external_id})" for r in results)
        return redirect(f"/tickets/{request.path_params['ticket_id']}", f"Exported to {where}.")

    # -- JSON API

    def api_list(request: Request, actor: str, body: Any) -> Any:
        p = request.query_params
        found = tickets.list_tickets(
            ctx.warehouse,
            status=p.get("status") or None,
            priority=p.get("priority") or None,
            kind=p.get("kind") or None,
        )
        return {"tickets": [t.summary() for t in found]}

    def api_get(request: Request, actor: str, body: Any) -> Any:
        ticket = tickets.get_ticket(ctx.warehouse, request.path_params["ticket_id"])
        return {"ticket": ticket, "history": tickets.history(ctx.warehouse, ticket.id)}

    def api_approve(request: Request, actor: str, body: Any) -> Any:
        return tickets.approve(
            ctx.warehouse, request.path_params["ticket_id"], actor=actor, reason=body.get("reason")
        )

    def api_reject(request: Request, actor: str, body: Any) -> Any:
        reason = str(body.get("reason") or "").strip()
        if not reason:
            raise InputError("a reason is required", field="reason")
        return tickets.reject(
            ctx.warehouse, request.path_params["ticket_id"], actor=actor, reason=reason
        )

    def api_edit(request: Request, actor: str, body: Any) -> Any:
        changes = body.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise InputError("send the fields to change as an object", field="changes")
        return tickets.edit(
            ctx.warehouse,
            request.path_params["ticket_id"],
            actor=actor,
            changes=changes,
            reason=body.get("reason"),
        )

    def api_export(request: Request, actor: str, body: Any) -> Any:
        results = tickets.export(
            ctx.warehouse,
            ctx.settings.ticketing,
            request.path_params["ticket_id"],
            target=body.get("target"),
            actor=actor,
        )
        return {"exports": [r.to_json() for r in results]}

    return [
        Route("/tickets", web.page(queue_page), methods=["GET"]),
        Route("/tickets/{ticket_id}", web.page(ticket_page), methods=["GET"]),
        Route("/tickets/{ticket_id}/approve", web.page(approve_action), methods=["POST"]),
        Route("/tickets/{ticket_id}/reject", web.page(reject_action), methods=["POST"]),
        Route("/tickets/{ticket_id}/edit", web.page(edit_action), methods=["POST"]),
        Route("/tickets/{ticket_id}/export", web.page(export_action), methods=["POST"]),
        Route("/api/v1/tickets", web.api(api_list), methods=["GET"]),
        Route("/api/v1/tickets/{ticket_id}", web.api(api_get), methods=["GET"]),
        Route("/api/v1/tickets/{ticket_id}/approve", web.api(api_approve), methods=["POST"]),
        Route("/api/v1/tickets/{ticket_id}/reject", web.api(api_reject), methods=["POST"]),
        Route("/api/v1/tickets/{ticket_id}/edit", web.api(api_edit), methods=["POST"]),
        Route("/api/v1/tickets/{ticket_id}/export", web.api(api_export), methods=["POST"]),
    ]
