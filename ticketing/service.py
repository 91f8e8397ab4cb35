"""The ticket library API: what the CLI, the console and the pipeline call.

    list_tickets(wh, status=None, priority=None, kind=None) -> list[Ticket]
    get_ticket(wh, ticket_id) -> Ticket                    (NotFoundError)
    history(wh, ticket_id) -> list[TicketEvent]            (the audit trail)
    approve(wh, ticket_id, actor, reason=None) -> Ticket   (ConflictError when not allowed)
    reject(wh, ticket_id, actor, reason) -> Ticket         (a reason is required)
    edit(wh, ticket_id, actor, changes, reason=None) -> Ticket
    export(wh, settings, ticket_id | "approved", target, actor) -> list[ExportResult]
    draft_for_run(wh, settings, clusters, run_id, now, ...) -> DraftOutcome

Every change is an appended event with actor, time and reason (see `ticketing.lifecycle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analysis.models import Cluster
from errors import InputError, NotFoundError
from llm.client import client_from_settings
from settings import Settings
from ticketing import grounding, store
from ticketing.config import TicketingSettings
from ticketing.drafting import DraftOutcome, OfflineWriter, Writer, draft_tickets
from ticketing.exporters import ExportTarget, exporter_for
from ticketing.lifecycle import edit_changes, transition
from ticketing.models import PRIORITIES, STATUSES, ExportRecord, Ticket, TicketEvent
from ticketing.policy import load_policy
from warehouse import Warehouse


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(tzinfo=None)


def list_tickets(
    wh: Warehouse,
    status: str | None = None,
    priority: str | None = None,
    kind: str | None = None,
) -> list[Ticket]:
    """Current tickets, highest priority and impact first, filtered by status/priority/kind."""
    if status is not None and status not in STATUSES:
        raise InputError(
            f"unknown status {status!r} (one of {', '.join(STATUSES)})", field="status"
        )
    if priority is not None and priority not in PRIORITIES:
        raise InputError(
            f"unknown priority {priority!r} (one of {', '.join(PRIORITIES)})", field="priority"
        )
    return store.current(wh, status=status, priority=priority, kind=kind)


def get_ticket(wh: Warehouse, ticket_id: str) -> Ticket:
    """One ticket's current state; `NotFoundError` when the id does not exist."""
    ticket = store.get(wh, ticket_id)
    if ticket is None:
        raise NotFoundError(f"no ticket {ticket_id!r} (see `andon tickets list`)")
    return ticket


def history(wh: Warehouse, ticket_id: str) -> list[TicketEvent]:
    """Every event of a ticket, oldest first."""
    get_ticket(wh, ticket_id)
    return store.events(wh, ticket_id)


def approve(
    wh: Warehouse,
    ticket_id: str,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Approve a proposed or edited ticket for export."""
    with store.write_lock():
        ticket, event = transition(
            get_ticket(wh, ticket_id), "approved", actor=actor, at=_now(now), reason=reason or ""
        )
        store.append(wh, ticket, event)
    return ticket


def reject(
    wh: Warehouse, ticket_id: str, actor: str, reason: str, now: datetime | None = None
) -> Ticket:
    """Reject a ticket (a reason is required); it stays out of the queue unless impact grows."""
    with store.write_lock():
        ticket, event = transition(
            get_ticket(wh, ticket_id), "rejected", actor=actor, at=_now(now), reason=reason or ""
        )
        store.append(wh, ticket, event)
    return ticket


def edit(
    wh: Warehouse,
    ticket_id: str,
    actor: str,
    changes: dict[str, Any],
    reason: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Change a ticket's words or priority; it goes (back) to review as ``edited``.

    The grounding report is recomputed so reviewers see when an edit states figures the
    evidence does not support. A priority change is recorded as the reviewer's override.
    """
    with store.write_lock():
        current = get_ticket(wh, ticket_id)
        applied, diff = edit_changes(current, changes)
        if "priority" in applied:
            applied["priority_reason"] = f"set by {actor}" + (f": {reason}" if reason else "")
        candidate = current.model_copy(update=applied)
        applied["grounding"] = grounding.check(grounding.draft_of(candidate), candidate).model_copy(
            update={"attempts": current.grounding.attempts, "history": current.grounding.history}
        )
        ticket, event = transition(
            current,
            "edited",
            actor=actor,
            at=_now(now),
            reason=reason or "",
            details=diff,
            changes=applied,
        )
        store.append(wh, ticket, event)
    return ticket


@dataclass
class ExportResult:
    """One ticket exported (or found already exported) to one target."""

    ticket_id: str
    target: str
    external_id: str
    url: str
    created: bool

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def export(
    wh: Warehouse,
    settings: TicketingSettings,
    ticket_id: str,
    target: ExportTarget | str | None = None,
    actor: str = "andon",
    now: datetime | None = None,
) -> list[ExportResult]:
    """Export one approved ticket, or every approved one (``ticket_id="approved"``).

    Idempotent: a ticket already exported to ``target`` (by our records, or found in the
    tracker by its andon marker after a retried call) is not created twice.
    """
    target = target or settings.default_export_target
    exporter = exporter_for(target, settings)
    if ticket_id == "approved":
        tickets = store.current(wh, status="approved")
    else:
        tickets = [get_ticket(wh, ticket_id)]
    results: list[ExportResult] = []
    for ticket in tickets:
        done = next((r for r in ticket.exports if r.target == target), None)
        if done is not None:
            results.append(
                ExportResult(ticket.id, target, done.external_id, done.url, created=False)
            )
            continue
        if ticket.status not in ("approved", "exported"):
            # Let the state machine phrase the refusal.
            transition(ticket, "exported", actor=actor, at=_now(now))
        found = exporter.find(ticket)
        record = found or exporter.create(ticket)
        record = record.model_copy(update={"at": _now(now)})
        with store.write_lock():
            latest = get_ticket(wh, ticket.id)
            updated, event = transition(
                latest,
                "exported",
                actor=actor,
                at=_now(now),
                reason=f"exported to {target}",
                details={"target": target, "external_id": record.external_id, "url": record.url,
                         "found_existing": found is not None},
                changes={"exports": [*latest.exports, record]},
            )  # fmt: skip
            store.append(wh, updated, event)
        results.append(
            ExportResult(ticket.id, target, record.external_id, record.url, created=found is None)
        )
    return results


def writer_for(settings: Settings, wh: Warehouse | None = None) -> Writer:
    """The configured writer: Claude when a key is set (and ``writer`` allows), else offline."""
    choice = settings.ticketing.writer
    if choice == "offline" or (choice == "auto" and not settings.llm.enabled):
        return OfflineWriter()
    if not settings.llm.enabled:
        raise InputError(
            "ticketing.writer is 'claude' but no Anthropic API key is set", field="ticketing.writer"
        )
    from ticketing.claude_writer import ClaudeWriter

    client = client_from_settings(settings.llm)
    assert client is not None
    return ClaudeWriter(client, settings.llm, settings.ticketing, wh)


def draft_for_run(
    wh: Warehouse,
    settings: Settings,
    clusters: list[Cluster],
    run_id: str,
    now: datetime,
    window_days: float | None = None,
    writer: Writer | None = None,
) -> DraftOutcome:
    """Draft/update tickets for a run's clusters with the configured writer and policy."""
    policy = load_policy(settings.ticketing.policy_file)
    return draft_tickets(
        wh,
        settings.ticketing,
        policy,
        clusters,
        run_id=run_id,
        now=_now(now),
        window_days=window_days,
        writer=writer or writer_for(settings, wh),
    )


__all__ = [
    "ExportRecord",
    "ExportResult",
    "approve",
    "draft_for_run",
    "edit",
    "export",
    "get_ticket",
    "history",
    "list_tickets",
    "reject",
]
