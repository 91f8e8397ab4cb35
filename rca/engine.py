"""The RCA pipeline for one window: detect degradations, group them, and investigate each group
(localize, build the service graph, score suspect deployments, read their gate verdicts, recall
similar incidents). Queries come from `rca.queries`; every decision is a pure function.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any, Literal

import polars as pl

from rca import changepoint, detection, gates, localization, memory, queries, suspects
from rca.config import RcaSettings
from rca.models import Degradation, Incident, Origin, SeriesPoint, Signal
from warehouse import Warehouse

MINUTE = timedelta(minutes=1)
NEW_ERROR_MIN_EVENTS = 20


def naive(ts: datetime) -> datetime:
    """UTC without tzinfo (how the warehouse stores time)."""
    if ts.tzinfo is not None:
        from datetime import UTC

        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def floor_minute(ts: datetime) -> datetime:
    return naive(ts).replace(second=0, microsecond=0)


def incident_id(service: str, route: str, signal: str, onset: datetime) -> str:
    """Deterministic: the same finding gets the same id on every run."""
    digest = hashlib.sha1(f"{service}|{route}|{signal}|{onset:%Y%m%dT%H%M}".encode()).hexdigest()
    return f"inc-{digest[:10]}"


def history_start(cfg: RcaSettings, since: datetime) -> datetime:
    """How far back aggregates are read so the first minute of the window has a baseline."""
    days = cfg.seasonal_days if cfg.seasonal_days >= cfg.seasonal_min_days else 0
    back = max(
        timedelta(minutes=cfg.baseline_minutes),
        timedelta(days=days, minutes=30) if days else timedelta(0),
    )
    return floor_minute(since) - back


def detect_window(
    wh: Warehouse, cfg: RcaSettings, since: datetime, until: datetime
) -> tuple[list[list[Degradation]], pl.DataFrame]:
    """Grouped degradations in [since, until), and the per-minute frame they came from."""
    since, until = floor_minute(since), naive(until)
    start = history_start(cfg, since)
    frame = queries.minute_aggregates(wh, start, until)
    if not frame.is_empty():
        frame = frame.with_columns(pl.col("minute").dt.replace_time_zone(None))
    found = detection.detect(frame, start, since, until, cfg)
    found.extend(new_error_degradations(wh, cfg, since, until))
    return detection.group(found, cfg), frame


def group_onset(wh: Warehouse, group: list[Degradation], lookback_minutes: int = 30) -> datetime:
    """The onset to the request: one mean-shift change point over the individual requests of
    every degraded series of the group's main signal, each series centred on its own level
    before the degradation, so quiet series add up to a dense one. The onset is placed halfway
    between the last request before the shift and the first after it."""
    coarse = min(naive(d.onset) for d in group)
    # An error never seen before appearing is a hard fact: the onset is no later than that.
    new_errors = [naive(d.onset) for d in group if d.signal == "new_error"]
    latest = min(new_errors) if new_errors else None
    onset = _change_point_onset(wh, group, coarse, lookback_minutes)
    return min(onset, latest) if latest is not None else onset


def _change_point_onset(
    wh: Warehouse, group: list[Degradation], coarse: datetime, lookback_minutes: int
) -> datetime:
    lead = detection.primary(group)
    kind = "error_rate" if lead.signal in ("error_rate", "new_error") else lead.signal
    usable = [d for d in group if d.signal == kind and (d.operation or d.route)]
    if kind not in ("latency_p95", "error_rate") or not usable:
        return coarse
    widest = max(d.window_minutes for d in usable)
    start = coarse - timedelta(minutes=lookback_minutes + widest)
    end = max(naive(d.detected_at) for d in usable) + MINUTE
    parts: list[pl.DataFrame] = []
    for d in usable:
        points = queries.request_points(wh, d.service, d.operation or d.route, start, end)
        if points.height < 4:
            continue
        if kind == "latency_p95":
            value = pl.col("ms").cast(pl.Float64).clip(1e-3, None).log()
        else:
            value = pl.col("err").cast(pl.Float64)
        points = points.with_columns(value.alias("v"), pl.col("ts").dt.replace_time_zone(None))
        before = points.filter(pl.col("ts") < naive(d.onset) - timedelta(minutes=d.window_minutes))
        centre = float(before["v"].median() or 0.0) if before.height else 0.0  # type: ignore[arg-type]
        parts.append(points.select("ts", (pl.col("v") - centre).alias("v")))
    if not parts:
        return coarse
    merged = pl.concat(parts).sort("ts")
    split = changepoint.mean_shift_split(merged["v"].to_numpy(), min_segment=3)
    if split is None:
        return coarse
    first_after: datetime = merged["ts"][split]
    last_before: datetime = merged["ts"][split - 1]
    onset = last_before + (first_after - last_before) / 2
    # Keep the request-level onset only where the minute-level evidence allows it.
    if not start <= onset <= end:
        return coarse
    return onset


def new_error_degradations(
    wh: Warehouse, cfg: RcaSettings, since: datetime, until: datetime
) -> list[Degradation]:
    """Error fingerprints first seen in the window that spike after a deploy of their service."""
    frame = queries.error_fingerprints(wh, since, until)
    if frame.is_empty():
        return []
    data = queries.data_range(wh)
    earliest = naive(data[0]) + timedelta(minutes=cfg.baseline_minutes) if data else since
    out: list[Degradation] = []
    for row in frame.iter_rows(named=True):
        first = naive(row["first_seen"])
        if first < since or first < earliest or row["events"] < NEW_ERROR_MIN_EVENTS:
            continue
        deploys = queries.deployments(
            wh,
            first - timedelta(minutes=cfg.suspect_lookback_minutes),
            first + MINUTE,
            cfg.environment,
        )
        if deploys.is_empty() or row["service"] not in set(deploys["service"].to_list()):
            continue
        entry = queries.entry_operation(wh, row["service"], list(row["trace_ids"] or []))
        out.append(
            Degradation(
                service=row["service"],
                route=row["route"] or (entry[1] if entry else ""),
                operation=entry[0] if entry else "",
                signal="new_error",
                onset=first,
                detected_at=floor_minute(first) + MINUTE,
                ended_at=naive(row["last_in_window"]),
                baseline=0.0,
                value=float(row["events"]),
                unit="events",
                requests=int(row["events"]),
                affected_users=int(row["users"]),
                affected_sessions=int(row["sessions"]),
                fingerprint=row["fingerprint"],
            )
        )
    return out


def _kind(signal: Signal) -> Literal["latency", "errors", "auto"]:
    if signal in ("error_rate", "new_error"):
        return "errors"
    if signal == "latency_p95":
        return "latency"
    return "auto"


def _neighbours(graph: pl.DataFrame, service: str) -> set[str]:
    if graph.is_empty():
        return set()
    callers = graph.filter(pl.col("callee") == service)["caller"].to_list()
    callees = graph.filter(pl.col("caller") == service)["callee"].to_list()
    return {str(s) for s in callers + callees} - {service}


def _severity(users: int, active: int) -> Literal["critical", "high", "medium", "low"]:
    share = users / active if active else 0.0
    if share >= 0.25 or users >= 1000:
        return "critical"
    if share >= 0.10 or users >= 200:
        return "high"
    if share >= 0.02 or users >= 20:
        return "medium"
    return "low"


def investigate(
    wh: Warehouse,
    cfg: RcaSettings,
    group: list[Degradation],
    until: datetime,
    frame: pl.DataFrame | None = None,
    *,
    source: Literal["detected", "declared"] = "detected",
    signal: Signal | None = None,
    past: list[Incident] | None = None,
) -> Incident:
    """Everything the brief needs about one group of degradations."""
    until = naive(until)
    onset = group_onset(wh, group) if source == "detected" else min(naive(d.onset) for d in group)
    window = timedelta(minutes=cfg.localization_window_minutes)
    after_end = min(until, onset + window)
    if after_end <= onset:
        after_end = onset + MINUTE
    pairs = sorted({(d.service, d.operation or d.route) for d in group if d.operation or d.route})
    lead = detection.primary(group)
    main_signal: Signal = signal or lead.signal

    # Localize: whose own behaviour changed across the onset, in the degraded requests.
    changes, traces = queries.operation_changes(
        wh, pairs, onset, window, after_end - onset, cfg.max_traces
    )
    origin = localization.localize(changes, traces, _kind(main_signal))
    kind: Literal["latency", "errors", "unknown"] = (
        origin.kind
        if origin
        else ("errors" if main_signal in ("error_rate", "new_error") else "latency")
    )
    path_services = set(changes["service"].to_list()) if not changes.is_empty() else set()
    graph = queries.service_graph(wh, onset - window, after_end)
    neighbours = _neighbours(graph, origin.service) if origin else set()

    # Name the incident after the degraded route in the origin service when there is one.
    in_origin = [d for d in group if origin and d.service == origin.service]
    lead = detection.primary(in_origin) if in_origin else lead

    lookback = timedelta(minutes=cfg.suspect_lookback_minutes)
    fps = queries.error_fingerprints(wh, onset - lookback, after_end)
    new_errors = [
        r for r in fps.iter_rows(named=True) if naive(r["first_seen"]) >= onset - lookback
    ] if not fps.is_empty() else []  # fmt: skip
    environments = (
        [cfg.environment]
        if cfg.environment
        else queries.span_environments(
            wh, sorted(path_services) or [lead.service], onset - window, after_end
        )
    )
    candidates = _candidates(wh, cfg, onset, after_end, origin, window, environments)
    ctx = suspects.Context(
        onset=onset,
        origin=origin,
        kind=kind,
        neighbours=neighbours,
        path_services=path_services,
        routes=sorted({d.route for d in group if d.route}),
        new_errors=new_errors,
        origin_routes=sorted({d.route for d in in_origin if d.route}),
    )
    ranked = suspects.score(candidates, ctx)

    production = _production(wh, pairs, onset, window, after_end, group)
    top = ranked[: cfg.gate_suspects]
    verdicts = queries.gate_verdicts(
        wh, [s.pr_number for s in top if s.pr_number], [s.commit_sha for s in top if s.commit_sha]
    )
    findings = gates.analyse(
        top,
        list(verdicts.iter_rows(named=True)) if not verdicts.is_empty() else [],
        kind,
        [p for p in production if not origin or p.service == origin.service] or production,
        cfg.environment or "production",
    )

    thresholds = [
        (d.service, d.operation or d.route, d.signal, d.baseline * cfg.latency_min_ratio if d.signal == "latency_p95" else 0.0)
        for d in group if d.operation or d.route
    ]  # fmt: skip
    people = queries.affected_people(wh, thresholds, onset, after_end) if thresholds else {}
    users = people.get("users", sum(d.affected_users for d in group))
    incident = Incident(
        id=incident_id(lead.service, lead.route, main_signal, onset),
        service=lead.service,
        route=lead.route,
        signal=main_signal,
        onset=onset,
        origin=origin,
        suspects=ranked,
        source=source,
        severity=_severity(users, people.get("active_users", 0)),
        detected_at=max(naive(d.detected_at) for d in group),
        window_start=onset - window,
        window_end=after_end,
        degradations=group,
        affected_users=users,
        affected_sessions=people.get("sessions", sum(d.affected_sessions for d in group)),
        requests=people.get("requests", sum(d.requests for d in group)),
        gate_findings=findings,
        new_fingerprints=[
            str(r["fingerprint"]) for r in new_errors if naive(r["first_seen"]) >= onset - window
        ][:10],
        sample_trace_ids=queries.sample_traces(wh, pairs, onset, after_end) if pairs else [],
    )
    incident.series, incident.series_unit = _series(frame, lead, onset, after_end)
    incident.title = title(incident)
    incident.similar = memory.similar(incident, past or [])
    return incident


def _candidates(
    wh: Warehouse,
    cfg: RcaSettings,
    onset: datetime,
    after_end: datetime,
    origin: Origin | None,
    window: timedelta,
    environments: list[str],
) -> list[suspects.Candidate]:
    """Deployments in the lookback window, of the environment the telemetry comes from (a
    staging deploy of the same version is not a production suspect)."""
    deploys = queries.deployments(
        wh,
        onset - timedelta(minutes=cfg.suspect_lookback_minutes),
        onset + timedelta(minutes=cfg.onset_tolerance_minutes),
        "",
    )
    if not deploys.is_empty() and environments:
        wanted = {e.lower() for e in environments}
        matching = deploys.filter(pl.col("environment").str.to_lowercase().is_in(list(wanted)))
        # Deployments that name no environment, or none matching: keep them all rather than none.
        deploys = matching if not matching.is_empty() else deploys
    if deploys.is_empty():
        return []
    prs = queries.pull_requests(wh, [s for s in deploys["commit_sha"].to_list() if s])
    by_sha = (
        {str(r["merge_commit_sha"]).lower(): r for r in prs.iter_rows(named=True)}
        if not prs.is_empty()
        else {}
    )
    out: list[suspects.Candidate] = []
    for row in deploys.iter_rows(named=True):
        started = naive(row["started_at"])
        sha = str(row["commit_sha"] or "").lower()
        pr = next(
            (p for s, p in by_sha.items() if sha and (s.startswith(sha) or sha.startswith(s))), None
        )
        op = origin.operation if origin and origin.service == row["service"] else None
        split = queries.version_split(
            wh, row["service"], op, min(started, onset - window) - window, onset, after_end
        )
        out.append(
            suspects.Candidate(
                deployment_id=str(row["deployment_id"]),
                service=str(row["service"]),
                version=str(row["version"]),
                started_at=started,
                finished_at=naive(row["finished_at"]) if row["finished_at"] else None,
                commit_sha=sha,
                environment=str(row["environment"]),
                pr=pr,
                split=split,
            )
        )
    return out


def _production(
    wh: Warehouse,
    pairs: list[tuple[str, str]],
    onset: datetime,
    window: timedelta,
    after_end: datetime,
    group: list[Degradation],
) -> list[gates.Production]:
    if not pairs:
        return []
    stats = queries.route_stats(wh, pairs, onset, window, after_end)
    out: list[gates.Production] = []
    for service, operation in pairs:
        rows = stats.filter((pl.col("service") == service) & (pl.col("operation") == operation))
        after = rows.filter(pl.col("after").cast(pl.Boolean))
        before = rows.filter(~pl.col("after").cast(pl.Boolean))
        if after.is_empty():
            continue
        a = after.row(0, named=True)
        b = before.row(0, named=True) if not before.is_empty() else {}
        out.append(
            gates.Production(
                route=str(a["route"]),
                service=service,
                p50_ms=float(a["p50_ms"]),
                p95_ms=float(a["p95_ms"]),
                p99_ms=float(a["p99_ms"]),
                error_rate=float(a["error_rate"]),
                rps=float(a["requests"]) / max(float(a["minutes"]), 1.0) / 60.0,
                peak_rps=float(a["peak_rps"]),
                baseline_p95_ms=float(b.get("p95_ms", 0.0)),
                baseline_error_rate=float(b.get("error_rate", 0.0)),
            )
        )
    return out


def _series(
    frame: pl.DataFrame | None, lead: Degradation, onset: datetime, end: datetime
) -> tuple[list[SeriesPoint], str]:
    if frame is None or frame.is_empty() or not (lead.operation or lead.route):
        return [], ""
    start = onset - timedelta(minutes=60)
    column = "operation" if lead.operation and "operation" in frame.columns else "route"
    part = frame.filter(
        (pl.col("service") == lead.service)
        & (pl.col(column) == (lead.operation or lead.route))
        & (pl.col("minute") >= start)
        & (pl.col("minute") < end)
    ).sort("minute")
    points: list[SeriesPoint] = []
    unit = "ms"
    for row in part.iter_rows(named=True):
        if lead.signal in ("error_rate", "new_error"):
            value: float | None = row["errors"] / row["requests"] if row["requests"] else None
            unit = "error rate"
        elif lead.signal == "throughput":
            value, unit = float(row["requests"]), "requests/min"
        else:
            value = (
                None if row["p95_ms"] is None or math.isnan(row["p95_ms"]) else float(row["p95_ms"])
            )
            unit = "p95 ms"
        points.append(SeriesPoint(minute=naive(row["minute"]), value=value))
    return points, unit


def describe_value(signal: str, value: float) -> str:
    """A signal value for people: 1.2 s, 12.5%, 40 req/min."""
    if signal == "latency_p95":
        return gates.fmt_ms(value)
    if signal == "error_rate":
        return f"{value:.1%}"
    if signal == "throughput":
        return f"{value:.0f} req/min"
    return f"{value:.0f}"


def title(incident: Incident) -> str:
    """One line with the finding and its numbers."""
    lead = next(
        (
            d
            for d in incident.degradations
            if (d.service, d.route) == (incident.service, incident.route)
        ),
        incident.degradations[0] if incident.degradations else None,
    )
    where = f"{incident.service} {incident.route}".strip()
    if lead is None or lead.signal == "declared":
        declared = f"Declared incident on {where} since {incident.onset:%Y-%m-%d %H:%M} UTC"
        if lead is not None and lead.baseline and lead.value:
            declared += f": p95 {gates.fmt_ms(lead.value)} vs {gates.fmt_ms(lead.baseline)} before"
        return declared
    if lead.signal == "new_error":
        return f"New error on {where}: {lead.requests} events since {incident.onset:%H:%M} UTC"
    what = {"latency_p95": "p95 latency", "error_rate": "error rate", "throughput": "throughput"}[
        lead.signal
    ]
    return (
        f"{what} of {where} at {describe_value(lead.signal, lead.value)} vs "
        f"{describe_value(lead.signal, lead.baseline)} baseline since {incident.onset:%H:%M} UTC"
    )


def same_origin(a: Incident, b: Incident, minutes: int = 30) -> bool:
    """Two findings of one run that start in the same operation at about the same time."""
    return (
        a.origin is not None
        and b.origin is not None
        and (a.origin.service, a.origin.operation) == (b.origin.service, b.origin.operation)
        and abs((naive(a.onset) - naive(b.onset)).total_seconds()) <= minutes * 60
    )


def merge_key(incident: Incident) -> tuple[str, str]:
    """What makes two runs' incidents the same incident (with an onset close enough)."""
    return incident.service, incident.signal


def find_same(incident: Incident, existing: list[Incident], minutes: int) -> Incident | None:
    """An already stored incident this one is a re-detection of."""
    for other in existing:
        if (
            merge_key(other) == merge_key(incident)
            and abs((naive(other.onset) - naive(incident.onset)).total_seconds()) <= minutes * 60
        ):
            return other
    return None


def fingerprint(incident: Incident) -> dict[str, Any]:
    """What must change for a re-detection to be worth a new version."""
    return {
        "contract": incident.contract(),
        "routes": sorted((d.service, d.route, d.signal) for d in incident.degradations),
        "gates": [(g.gate, g.verdict, g.discrepancy) for g in incident.gate_findings],
    }
