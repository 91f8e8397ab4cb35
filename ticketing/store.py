"""Tickets in the warehouse: append-only events, current state derived (argMax by version).

`append` writes one event with the ticket snapshot after it; `current` / `get` read the latest
snapshot per ticket; `events` is a ticket's audit trail. Writes in one process are serialised
(versions are read-then-written), which is what ``andon serve`` (one process) needs.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from ticketing.models import Ticket, TicketEvent
from warehouse import Warehouse

TABLE = "andon_ticket_events"
_COLUMNS = [
    "TicketId", "Version", "At", "Actor", "Action", "FromStatus", "ToStatus", "Reason",
    "Details", "RunId", "Kind", "Priority", "ClusterIds", "Snapshot",
]  # fmt: skip
_write_lock = threading.RLock()


def write_lock() -> threading.RLock:
    """Held around read-modify-append sequences so two writers never reuse a version."""
    return _write_lock


def _naive(at: datetime) -> datetime:
    return at.replace(tzinfo=None) if at.tzinfo else at


def append(wh: Warehouse, ticket: Ticket, event: TicketEvent) -> None:
    """Record ``event`` with ``ticket`` (already at ``event.version``) as the state after it."""
    snapshot = ticket.model_dump_json()
    wh.insert(
        TABLE,
        [
            (
                ticket.id,
                event.version,
                _naive(event.at),
                event.actor,
                event.action,
                event.from_status,
                event.to_status,
                event.reason,
                json.dumps(event.details, default=str, ensure_ascii=False),
                ticket.provenance.run_id,
                ticket.kind,
                ticket.priority,
                list(ticket.cluster_ids),
                snapshot,
            )
        ],
        _COLUMNS,
    )


def current(
    wh: Warehouse,
    *,
    ids: list[str] | None = None,
    status: str | None = None,
    priority: str | None = None,
    kind: str | None = None,
    cluster_id: str | None = None,
) -> list[Ticket]:
    """The current state of tickets matching every given filter, highest priority first."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if ids is not None:
        if not ids:
            return []
        where.append("TicketId IN {ids:Array(String)}")
        params["ids"] = ids
    having: list[str] = []
    for name, value, column in (
        ("status", status, "ToStatus"),
        ("priority", priority, "Priority"),
        ("kind", kind, "Kind"),
    ):
        if value is not None:
            having.append(f"argMax({column}, Version) = {{{name}:String}}")
            params[name] = value
    if cluster_id is not None:
        having.append("has(argMax(ClusterIds, Version), {cluster:String})")
        params["cluster"] = cluster_id
    sql = (
        f"SELECT TicketId, argMax(Snapshot, Version) FROM {wh.table(TABLE)}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " GROUP BY TicketId"
        + (f" HAVING {' AND '.join(having)}" if having else "")
    )
    tickets = [Ticket.model_validate_json(snapshot) for _, snapshot in wh.rows(sql, params)]
    tickets.sort(key=lambda t: (t.priority, -t.impact.score, -t.impact.affected_sessions, t.id))
    return tickets


def get(wh: Warehouse, ticket_id: str) -> Ticket | None:
    """One ticket's current state, or None."""
    found = current(wh, ids=[ticket_id])
    return found[0] if found else None


def events(wh: Warehouse, ticket_id: str) -> list[TicketEvent]:
    """A ticket's audit trail, oldest first."""
    rows = wh.rows(
        f"SELECT Version, At, Actor, Action, FromStatus, ToStatus, Reason, Details "
        f"FROM {wh.table(TABLE)} WHERE TicketId = {{id:String}} ORDER BY Version",
        {"id": ticket_id},
    )
    return [
        TicketEvent(
            ticket_id=ticket_id,
            version=int(version),
            at=at,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            details=json.loads(details or "{}"),
        )
        for version, at, actor, action, from_status, to_status, reason, details in rows
    ]
