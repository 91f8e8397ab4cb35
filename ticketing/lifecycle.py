"""The review gate's state machine, pure: which transitions are allowed, and what they change.

    proposed --approve--> approved --export--> exported
        |  ^                 |
      edit |               edit (back to review)
        v  |                 v
       edited --approve--> approved
    proposed/edited/approved --reject (reason)--> rejected --(impact grows, policy)--> proposed

Every transition returns the new ticket (version + 1) and the `TicketEvent` recording who, when
and why; `ticketing.service` appends both. Nothing here touches storage or the clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from errors import ConflictError, InputError
from ticketing.models import EventAction, Status, Ticket, TicketEvent

_ALLOWED_FROM: dict[str, frozenset[str]] = {
    "approved": frozenset({"proposed", "edited"}),
    "auto_approved": frozenset({"proposed"}),
    "rejected": frozenset({"proposed", "edited", "approved"}),
    "edited": frozenset({"proposed", "edited", "approved"}),
    "exported": frozenset({"approved", "exported"}),
    "evidence_updated": frozenset({"proposed", "edited", "approved", "exported"}),
    "reproposed": frozenset({"rejected"}),
}
_RESULT: dict[str, Status | None] = {
    "approved": "approved",
    "auto_approved": "approved",
    "rejected": "rejected",
    "edited": "edited",
    "exported": "exported",
    "evidence_updated": None,  # keeps the status
    "reproposed": "proposed",
}
# What a reviewer may change with `edit`; the evidence and impact are measured, not edited.
EDITABLE = (
    "title",
    "problem",
    "affected",
    "suggested_scope",
    "acceptance_notes",
    "priority",
    "labels",
)


def _why_not(ticket: Ticket, action: str) -> str:
    if ticket.status == "rejected":
        return "it was rejected; it is proposed again only if its impact grows past the policy threshold"
    if ticket.status == "exported" and action == "edited":
        return "it is already exported; edit it in the tracker"
    if ticket.status == "approved" and action == "approved":
        return "it is already approved"
    if action == "exported":
        return "only approved tickets can be exported; approve it first"
    return f"a {ticket.status} ticket cannot be {action.replace('_', ' ')}"


def transition(
    ticket: Ticket,
    action: EventAction,
    *,
    actor: str,
    at: datetime,
    reason: str = "",
    details: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
) -> tuple[Ticket, TicketEvent]:
    """Apply ``action`` (with optional field ``changes``) and return (new ticket, its event).

    Raises `ConflictError` when the current status does not allow it, `InputError` for bad
    changes or a missing reason.
    """
    allowed = _ALLOWED_FROM.get(action)
    if allowed is None or ticket.status not in allowed:
        raise ConflictError(f"ticket {ticket.id} is {ticket.status}: {_why_not(ticket, action)}")
    if action == "rejected" and not reason.strip():
        raise InputError("a rejection needs a reason", field="reason")
    if not actor.strip():
        raise InputError("every transition needs an actor", field="actor")
    new_status = _RESULT[action] or ticket.status
    data = ticket.model_dump()
    for name, value in (changes or {}).items():
        data[name] = value
    data.update(
        version=ticket.version + 1,
        status=new_status,
        status_reason=reason
        if new_status != ticket.status or action == "rejected"
        else ticket.status_reason,
        updated_at=at,
    )
    if action == "rejected":
        data["rejected_impact"] = ticket.impact.affected_sessions
    try:
        updated = Ticket.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(err["msg"], field=".".join(str(p) for p in err["loc"])) from exc
    event = TicketEvent(
        ticket_id=ticket.id,
        version=updated.version,
        at=at,
        actor=actor,
        action=action,
        from_status=ticket.status,
        to_status=updated.status,
        reason=reason,
        details=details or {},
    )
    return updated, event


def edit_changes(ticket: Ticket, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate a reviewer's edit: (changes to apply, details for the event: before/after).

    Raises `InputError` naming a field that is not editable, or an edit that changes nothing.
    """
    applied: dict[str, Any] = {}
    diff: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in EDITABLE:
            raise InputError(
                f"{name!r} cannot be edited (editable: {', '.join(EDITABLE)})", field=name
            )
        if name in {"suggested_scope", "acceptance_notes", "labels"} and isinstance(value, str):
            value = [line.strip() for line in value.splitlines() if line.strip()]
        before = getattr(ticket, name)
        if before != value:
            applied[name] = value
            diff[name] = {"before": before, "after": value}
    if not applied:
        raise InputError("the edit changes nothing", field=", ".join(changes) or None)
    return applied, diff
