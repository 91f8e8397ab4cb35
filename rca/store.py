"""Incidents and briefs in the warehouse, append-only.

Each change of an incident is a new row of ``andon_incident_events`` with the next version and
the whole incident as JSON; the current state is the payload of the highest version. Briefs are
rows of ``andon_incident_briefs`` keyed by (incident, version).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from errors import NotFoundError
from rca.models import Brief, BriefText, Incident, IncidentEvent
from warehouse import Warehouse

EVENTS = "andon_incident_events"
BRIEFS = "andon_incident_briefs"

_EVENT_COLUMNS = [
    "IncidentId", "Version", "At", "Kind", "Status", "Service", "Route", "Signal", "Onset",
    "Actor", "Note", "RunId", "Payload",
]  # fmt: skip


def _naive(ts: datetime) -> datetime:
    return ts.replace(tzinfo=None) if ts.tzinfo else ts


def append_event(
    wh: Warehouse,
    incident: Incident,
    *,
    kind: str,
    at: datetime,
    actor: str = "",
    note: str = "",
    run_id: str = "",
) -> Incident:
    """Record a new version of ``incident`` (its version is set to the next one) and return it."""
    current = wh.scalar(
        f"SELECT max(Version) FROM {wh.table(EVENTS)} WHERE IncidentId = {{id:String}}",
        {"id": incident.id},
    )
    version = int(current or 0) + 1
    stored = incident.model_copy(update={"version": version})
    wh.insert(
        EVENTS,
        [
            (
                stored.id, version, _naive(at), kind, stored.status, stored.service, stored.route,
                stored.signal, _naive(stored.onset), actor, note, run_id,
                stored.model_dump_json(),
            )
        ],
        _EVENT_COLUMNS,
    )  # fmt: skip
    return stored


def _current_sql(wh: Warehouse, where: str = "") -> str:
    return f"SELECT argMax(Payload, Version) FROM {wh.table(EVENTS)} {where} GROUP BY IncidentId"


def load_incidents(
    wh: Warehouse, status: str | None = None, service: str | None = None
) -> list[Incident]:
    """Current state of every incident (newest onset first), optionally filtered."""
    rows = wh.rows(_current_sql(wh))
    incidents = [Incident.model_validate_json(r[0]) for r in rows]
    if status:
        incidents = [i for i in incidents if i.status == status]
    if service:
        incidents = [i for i in incidents if i.service == service]
    return sorted(incidents, key=lambda i: (i.onset, i.id), reverse=True)


def load_incident(wh: Warehouse, incident_id: str) -> Incident:
    """Current state of one incident; `NotFoundError` if there is none with that id."""
    rows = wh.rows(
        _current_sql(wh, "WHERE IncidentId = {id:String}"),
        {"id": incident_id},
    )
    if not rows:
        raise NotFoundError(f"no incident with id {incident_id!r} (see `andon incidents list`)")
    return Incident.model_validate_json(rows[0][0])


def load_events(wh: Warehouse, incident_id: str) -> list[IncidentEvent]:
    """The history of one incident, oldest first."""
    rows = wh.rows(
        f"SELECT Version, At, Kind, Actor, Note FROM {wh.table(EVENTS)} FINAL "
        "WHERE IncidentId = {id:String} ORDER BY Version",
        {"id": incident_id},
    )
    return [
        IncidentEvent(incident_id=incident_id, version=v, at=at, kind=k, actor=a, note=n)
        for v, at, k, a, n in rows
    ]


def save_brief(wh: Warehouse, brief: Brief, delivered: list[str] | None = None) -> None:
    """Store a written brief for (incident, version)."""
    wh.insert(
        BRIEFS,
        [
            (
                brief.incident_id,
                brief.version,
                _naive(brief.written_at),
                brief.writer,
                int(brief.grounded),
                brief.grounding_issues,
                brief.text.model_dump_json(),
                delivered or [],
            )
        ],
        [
            "IncidentId",
            "Version",
            "WrittenAt",
            "Writer",
            "Grounded",
            "GroundingIssues",
            "Text",
            "Delivered",
        ],
    )


def load_brief(wh: Warehouse, incident_id: str, version: int | None = None) -> Brief | None:
    """The latest brief of an incident (or of one version); None when none was written."""
    params: dict[str, Any] = {"id": incident_id}
    where = "IncidentId = {id:String}"
    if version is not None:
        where += " AND Version = {v:UInt32}"
        params["v"] = version
    rows = wh.rows(
        f"SELECT Version, WrittenAt, Writer, Grounded, GroundingIssues, Text "
        f"FROM {wh.table(BRIEFS)} WHERE {where} ORDER BY Version DESC, WrittenAt DESC LIMIT 1",
        params,
    )
    if not rows:
        return None
    v, written_at, writer, grounded, issues, text = rows[0]
    return Brief(
        incident_id=incident_id,
        version=int(v),
        written_at=written_at,
        writer=writer,
        grounded=bool(grounded),
        grounding_issues=list(issues),
        text=BriefText.model_validate(json.loads(text)),
    )
