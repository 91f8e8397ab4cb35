"""The RCA library API: what the pipeline, the CLI, the HTTP API and the console call.

    from rca import service
    result = service.detect(wh, settings, since, until, now=now)   # detect, investigate, brief
    service.list_incidents(wh, status="open")
    service.get_incident(wh, "inc-3f2a...")
    service.brief(wh, settings, "inc-3f2a...", fmt="html")
    service.declare(wh, settings, service="pricing", since=t, actor="alice")
    service.resolve(wh, "inc-3f2a...", note="rolled back pricing 2.4.1", actor="alice")

Times are UTC; ``now`` is injectable everywhere (tests pass a fixed clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from errors import ConflictError, InputError
from rca import delivery, engine, queries, render, store, writer
from rca.models import Brief, Degradation, Incident
from settings import Settings
from warehouse import Warehouse


def _now(now: datetime | None) -> datetime:
    return engine.naive(now) if now is not None else datetime.now(UTC).replace(tzinfo=None)


@dataclass
class DetectionResult:
    """What one detection pass found and recorded."""

    incidents: list[Incident] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    briefs: list[Brief] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def detect(
    wh: Warehouse,
    settings: Settings,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    now: datetime | None = None,
    run_id: str = "",
    write_briefs: bool = True,
) -> DetectionResult:
    """Detect incidents in [since, until) (default: the whole span range), investigate each,
    record new ones or new versions of known ones, and write (and deliver) their briefs."""
    cfg = settings.rca
    moment = _now(now)
    result = DetectionResult()
    data = queries.data_range(wh)
    if data is None:
        result.notes.append("no spans in the warehouse: nothing to detect")
        return result
    since = engine.naive(since) if since else engine.naive(data[0])
    until = engine.naive(until) if until else engine.naive(data[1]) + timedelta(seconds=1)
    if until <= since:
        raise InputError(
            f"--until ({until:%Y-%m-%dT%H:%M}) must be after --since ({since:%Y-%m-%dT%H:%M})",
            field="until",
        )
    groups, frame = engine.detect_window(wh, cfg, since, until)
    existing = store.load_incidents(wh)
    investigated: list[tuple[list[Degradation], Incident]] = []
    for group in groups:
        found = engine.investigate(wh, cfg, group, until, frame, past=existing)
        # Degradations noticed apart (a quiet client route, minutes later) that localize to the
        # same origin around the same time are one incident.
        same = next(
            (k for k, (_, other) in enumerate(investigated) if engine.same_origin(found, other)),
            None,
        )
        if same is None:
            investigated.append((group, found))
            continue
        joined = investigated[same][0] + group
        investigated[same] = (
            joined,
            engine.investigate(wh, cfg, joined, until, frame, past=existing),
        )
    for _, found in investigated:
        incident, changed = _record(wh, found, existing, moment, run_id)
        result.incidents.append(incident)
        if changed:
            result.changed.append(incident.id)
            if write_briefs:
                brief_ = _write_and_deliver(wh, settings, incident, moment, result)
                result.briefs.append(brief_)
    return result


def _record(
    wh: Warehouse, found: Incident, existing: list[Incident], moment: datetime, run_id: str
) -> tuple[Incident, bool]:
    same = engine.find_same(found, existing, max(10, 2 * 5))
    if same is not None:
        found = found.model_copy(
            update={
                "id": same.id,
                "status": same.status,
                "resolution": same.resolution,
                "resolved_by": same.resolved_by,
                "resolved_at": same.resolved_at,
                "declared_by": same.declared_by,
                "source": same.source,
                "similar": [s for s in found.similar if s.id != same.id],
            }
        )
        if engine.fingerprint(found) == engine.fingerprint(same):
            return same, False
        stored = store.append_event(wh, found, kind="updated", at=moment, run_id=run_id)
        existing[:] = [stored if i.id == same.id else i for i in existing]
        return stored, True
    stored = store.append_event(wh, found, kind="detected", at=moment, run_id=run_id)
    existing.append(stored)
    return stored, True


def _write_and_deliver(
    wh: Warehouse, settings: Settings, incident: Incident, moment: datetime, result: DetectionResult
) -> Brief:
    brief_ = writer.write_brief(incident, settings, now=moment)
    sent: list[str] = []
    url = settings.rca.slack_webhook_url
    if url is not None and url.get_secret_value():
        outcome = delivery.post_slack(
            url.get_secret_value(), incident, brief_, settings.rca.console_url
        )
        if outcome.ok:
            sent.append("slack")
            result.delivered.append(incident.id)
        else:
            result.notes.append(f"slack delivery of {incident.id} failed: {outcome.error}")
    store.save_brief(wh, brief_, sent)
    return brief_


def list_incidents(
    wh: Warehouse, status: str | None = None, service: str | None = None
) -> list[Incident]:
    """Current incidents, newest onset first (``status``: open | resolved)."""
    if status is not None and status not in ("open", "resolved"):
        raise InputError(f"unknown status {status!r}: use open or resolved", field="status")
    return store.load_incidents(wh, status=status, service=service)


def get_incident(wh: Warehouse, incident_id: str) -> Incident:
    """One incident's current state (`NotFoundError` when unknown)."""
    return store.load_incident(wh, incident_id)


def brief(
    wh: Warehouse,
    settings: Settings,
    incident_id: str,
    fmt: str = "md",
    *,
    now: datetime | None = None,
) -> str:
    """The incident's brief rendered as ``md``, ``html`` or ``json``.

    The stored brief of the current version is used; one is written (offline or by the model)
    and stored when there is none yet.
    """
    if fmt not in render.FORMATS:
        raise InputError(
            f"unknown brief format {fmt!r}: use one of {', '.join(render.FORMATS)}", field="format"
        )
    incident = store.load_incident(wh, incident_id)
    brief_ = store.load_brief(wh, incident_id, incident.version)
    if brief_ is None:
        brief_ = writer.write_brief(incident, settings, now=_now(now))
        store.save_brief(wh, brief_)
    return render.render(incident, brief_, fmt)


def history(wh: Warehouse, incident_id: str) -> list[dict[str, object]]:
    """The append-only events of an incident (who changed what, when)."""
    store.load_incident(wh, incident_id)
    return [e.model_dump(mode="json") for e in store.load_events(wh, incident_id)]


def declare(
    wh: Warehouse,
    settings: Settings,
    service: str,
    since: datetime,
    actor: str,
    route: str | None = None,
    *,
    now: datetime | None = None,
    note: str = "",
) -> Incident:
    """An SRE declares an incident on ``service`` (optionally one route) since ``since``.

    The RCA runs as for a detected incident, with the declared time as the onset: localization,
    suspects, gate verdicts, memory; a brief is written and delivered.
    """
    if not service.strip():
        raise InputError("a service is required", field="service")
    if not actor.strip():
        raise InputError("say who declares the incident", field="actor")
    moment = _now(now)
    onset = engine.floor_minute(since)
    if onset >= moment:
        raise InputError(f"--since {onset:%Y-%m-%dT%H:%M} is in the future", field="since")
    cfg = settings.rca
    frame = queries.minute_aggregates(wh, onset - timedelta(minutes=cfg.baseline_minutes), moment)
    if not frame.is_empty():
        frame = frame.with_columns(pl.col("minute").dt.replace_time_zone(None))
    mine = frame.filter(pl.col("service") == service) if not frame.is_empty() else frame
    if mine.is_empty():
        raise InputError(
            f"no spans of service {service!r} around {onset:%Y-%m-%dT%H:%M}", field="service"
        )
    if route is not None:
        mine = mine.filter(pl.col("route") == route)
        if mine.is_empty():
            raise InputError(
                f"service {service!r} has no route {route!r} in the data", field="route"
            )
    group = _declared_group(mine, service, onset, moment)
    incident = engine.investigate(
        wh,
        cfg,
        group,
        moment,
        frame,
        source="declared",
        signal="declared",
        past=store.load_incidents(wh),
    )
    incident = incident.model_copy(
        update={
            "id": engine.incident_id(service, route or "", "declared", onset),
            "declared_by": actor,
            "detected_at": moment,
            "service": service,
            "route": route or incident.route,
        }
    )
    incident.title = engine.title(incident)
    stored = store.append_event(wh, incident, kind="declared", at=moment, actor=actor, note=note)
    result = DetectionResult()
    _write_and_deliver(wh, settings, stored, moment, result)
    return stored


def _declared_group(
    frame: pl.DataFrame, service: str, onset: datetime, moment: datetime
) -> list[Degradation]:
    """One entry per entry operation of the service (busiest first, at most 5), before vs after."""
    out: list[Degradation] = []
    totals = (
        frame.filter(pl.col("minute") >= onset)
        .group_by("operation")
        .agg(pl.col("requests").sum(), pl.col("route").first())
        .sort("requests", "operation", descending=[True, False])
    )
    for operation, route in totals.select("operation", "route").head(5).iter_rows():
        part = frame.filter(pl.col("operation") == operation)
        before = part.filter(pl.col("minute") < onset)
        after = part.filter(pl.col("minute") >= onset)
        out.append(
            Degradation(
                service=service,
                route=str(route),
                operation=str(operation),
                signal="declared",
                onset=onset,
                detected_at=moment,
                baseline=float(before["p95_ms"].median() or 0.0) if not before.is_empty() else 0.0,  # type: ignore[arg-type]
                value=float(after["p95_ms"].median() or 0.0) if not after.is_empty() else 0.0,  # type: ignore[arg-type]
                unit="ms",
                requests=int(after["requests"].sum()),
                baseline_kind="declared",
            )
        )
    return out


def resolve(
    wh: Warehouse, incident_id: str, note: str, actor: str, *, now: datetime | None = None
) -> Incident:
    """Mark an incident resolved with how it was resolved (the memory later briefs use)."""
    if not note.strip():
        raise InputError("say how it was resolved", field="note")
    if not actor.strip():
        raise InputError("say who resolves it", field="actor")
    incident = store.load_incident(wh, incident_id)
    if incident.status == "resolved":
        raise ConflictError(f"incident {incident_id} is already resolved ({incident.resolution})")
    moment = _now(now)
    resolved = incident.model_copy(
        update={
            "status": "resolved",
            "resolution": note.strip(),
            "resolved_by": actor,
            "resolved_at": moment,
        }
    )
    return store.append_event(
        wh, resolved, kind="resolved", at=moment, actor=actor, note=note.strip()
    )
