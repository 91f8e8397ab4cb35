"""The SQL behind the RCA: every heavy step (per-minute aggregates, self-time per span, the
service graph, version splits) runs in ClickHouse; Python gets small aggregated frames back.

A series is a service's entry operation (``SpanName``, e.g. ``GET /v1/orders``: method and
route, so a fast GET and a slow POST on one route are not mixed); its ``route`` is the HTTP route.
Only this module builds RCA queries. Values are bound as ClickHouse parameters; (service,
operation) pairs travel as ``service || '\\x1f' || operation`` keys in one Array(String).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from warehouse import Warehouse

SEP = "\x1f"
# A span's route: the HTTP route when the instrumentation set one, else the span name.
ROUTE = "if(SpanAttributes['http.route'] != '', SpanAttributes['http.route'], SpanName)"
# An entry span: a service's server span, or a trace root (client apps start traces).
ENTRY = "(SpanKind = 'Server' OR ParentSpanId = '')"
IS_ERROR = (
    "(StatusCode = 'Error' OR toUInt16OrZero(SpanAttributes['http.response.status_code']) >= 500)"
)


def _naive(ts: datetime) -> datetime:
    return ts.replace(tzinfo=None) if ts.tzinfo else ts


def key(service: str, operation: str) -> str:
    """The (service, operation) key used to bind pairs."""
    return f"{service}{SEP}{operation}"


def data_range(wh: Warehouse) -> tuple[datetime, datetime] | None:
    """First and last span timestamps, or None when there are no spans."""
    row = wh.rows(f"SELECT min(Timestamp), max(Timestamp), count() FROM {wh.table('otel_traces')}")[
        0
    ]
    if not row[2]:
        return None
    return row[0], row[1]


def minute_aggregates(wh: Warehouse, start: datetime, end: datetime) -> pl.DataFrame:
    """Per (service, route, minute) of entry spans: requests, errors, p50/p95/p99, users,
    sessions, and the additive latency statistics detection pools over windows: the sum and sum
    of squares of log(ms), and ``slow``, requests slower than the series' p90 over the range."""
    sql = f"""
        WITH ref AS (
            SELECT ServiceName AS service, SpanName AS operation, quantile(0.9)(Duration) AS p90_ns
            FROM {wh.table("otel_traces")}
            WHERE {ENTRY} AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
            GROUP BY service, operation
        )
        SELECT t.service AS service, t.operation AS operation, any(t.route) AS route,
               toDateTime64(toStartOfMinute(t.Timestamp), 3) AS minute,
               count() AS requests, countIf(t.err) AS errors,
               quantile(0.5)(t.Duration) / 1e6 AS p50_ms,
               quantile(0.95)(t.Duration) / 1e6 AS p95_ms,
               quantile(0.99)(t.Duration) / 1e6 AS p99_ms,
               sum(log(greatest(t.Duration, 1000) / 1e6)) AS sum_log,
               sum(pow(log(greatest(t.Duration, 1000) / 1e6), 2)) AS sum_log2,
               countIf(t.Duration > r.p90_ns) AS slow,
               uniqExactIf(t.user, t.user != '') AS users,
               uniqExactIf(t.session, t.session != '') AS sessions
        FROM (
            SELECT ServiceName AS service, SpanName AS operation, {ROUTE} AS route, Timestamp,
                   Duration, {IS_ERROR} AS err,
                   SpanAttributes['enduser.id'] AS user, SpanAttributes['session.id'] AS session
            FROM {wh.table("otel_traces")}
            WHERE {ENTRY} AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
        ) AS t
        INNER JOIN ref AS r ON t.service = r.service AND t.operation = r.operation
        GROUP BY service, operation, minute
        ORDER BY service, operation, minute
    """
    return wh.frame(sql, {"start": _naive(start), "end": _naive(end)})


def request_points(
    wh: Warehouse, service: str, operation: str, start: datetime, end: datetime, limit: int = 20_000
) -> pl.DataFrame:
    """Individual requests of one series (time, ms, error), for a precise onset."""
    sql = f"""
        SELECT Timestamp AS ts, Duration / 1e6 AS ms, {IS_ERROR} AS err
        FROM {wh.table("otel_traces")}
        WHERE {ENTRY} AND ServiceName = {{service:String}} AND SpanName = {{op:String}}
          AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
        ORDER BY ts
        LIMIT {{n:UInt32}}
    """
    return wh.frame(
        sql,
        {
            "service": service,
            "op": operation,
            "start": _naive(start),
            "end": _naive(end),
            "n": limit,
        },
    )


def affected_people(
    wh: Warehouse,
    pairs: Sequence[tuple[str, str, str, float]],
    start: datetime,
    end: datetime,
) -> dict[str, int]:
    """Users, sessions and requests hurt by the degradation since ``start``.

    ``pairs`` are (service, operation, signal, threshold): a request counts when it failed (error
    signals) or took longer than the threshold in ms (latency); for throughput every request of
    the route counts. Also returns the users and sessions active anywhere meanwhile.
    """
    conditions: list[str] = []
    params: dict[str, Any] = {"start": _naive(start), "end": _naive(end)}
    for i, (service, route, signal, threshold) in enumerate(pairs):
        params[f"s{i}"], params[f"r{i}"], params[f"t{i}"] = service, route, int(threshold * 1e6)
        match = f"(ServiceName = {{s{i}:String}} AND SpanName = {{r{i}:String}})"
        if signal == "latency_p95":
            conditions.append(f"({match} AND (Duration > {{t{i}:UInt64}} OR {IS_ERROR}))")
        elif signal in ("error_rate", "new_error"):
            conditions.append(f"({match} AND {IS_ERROR})")
        else:
            conditions.append(match)
    hit = " OR ".join(conditions) or "0"
    sql = f"""
        SELECT uniqExactIf(SpanAttributes['enduser.id'], hit AND SpanAttributes['enduser.id'] != ''),
               uniqExactIf(SpanAttributes['session.id'], hit AND SpanAttributes['session.id'] != ''),
               countIf(hit),
               uniqExactIf(SpanAttributes['enduser.id'], SpanAttributes['enduser.id'] != ''),
               uniqExactIf(SpanAttributes['session.id'], SpanAttributes['session.id'] != '')
        FROM (
            SELECT SpanAttributes, ({hit}) AS hit
            FROM {wh.table("otel_traces")}
            WHERE {ENTRY} AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
        )
    """
    users, sessions, requests, active_users, active_sessions = wh.rows(sql, params)[0]
    return {
        "users": int(users),
        "sessions": int(sessions),
        "requests": int(requests),
        "active_users": int(active_users),
        "active_sessions": int(active_sessions),
    }


def _self_time_spans(wh: Warehouse, trace_filter: str) -> str:
    """Spans of the chosen traces with their self time (duration minus their children's)."""
    traces = wh.table("otel_traces")
    return f"""
        spans AS (
            SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, Duration, Timestamp,
                   ResourceAttributes['service.version'] AS version, {IS_ERROR} AS is_error
            FROM {traces}
            WHERE Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
              AND TraceId IN ({trace_filter})
        ),
        kids AS (
            SELECT TraceId, ParentSpanId AS SpanId, sum(Duration) AS child_ns,
                   max(is_error) AS child_error
            FROM spans WHERE ParentSpanId != '' GROUP BY TraceId, ParentSpanId
        ),
        selfed AS (
            SELECT s.TraceId AS TraceId, s.ServiceName AS ServiceName, s.SpanName AS SpanName,
                   s.version AS version, s.Timestamp AS Timestamp,
                   greatest(toInt64(s.Duration) - toInt64(k.child_ns), 0) / 1e6 AS self_ms,
                   s.is_error AND NOT k.child_error AS own_error
            FROM spans AS s LEFT JOIN kids AS k ON s.TraceId = k.TraceId AND s.SpanId = k.SpanId
        )
    """


def operation_changes(
    wh: Warehouse,
    pairs: Sequence[tuple[str, str]],
    onset: datetime,
    before: timedelta,
    after: timedelta,
    max_traces: int,
) -> tuple[pl.DataFrame, dict[bool, int]]:
    """Self time and own errors per (service, operation), before vs after the onset.

    Only traces that went through one of the degraded (service, operation) entries count; at most
    ``max_traces`` per phase, chosen by trace-id hash (a deterministic sample). Returns the frame
    (service, operation, after, spans, self_ms, own_errors) and the traces per phase.
    """
    params = {
        "start": _naive(onset - before),
        "end": _naive(onset + after),
        "onset": _naive(onset),
        "keys": [key(s, r) for s, r in pairs],
        "n": max_traces,
    }
    chosen = f"""
        SELECT TraceId FROM (
            SELECT TraceId, min(Timestamp) >= {{onset:DateTime64(3)}} AS phase
            FROM {wh.table("otel_traces")}
            WHERE {ENTRY} AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
              AND concat(ServiceName, '{SEP}', SpanName) IN {{keys:Array(String)}}
            GROUP BY TraceId
            ORDER BY cityHash64(TraceId)
            LIMIT {{n:UInt32}} BY phase
        )
    """
    sql = f"""
        WITH {_self_time_spans(wh, chosen)},
        phases AS (
            SELECT TraceId, min(Timestamp) >= {{onset:DateTime64(3)}} AS after
            FROM spans GROUP BY TraceId
        )
        SELECT f.ServiceName AS service, f.SpanName AS operation, p.after AS after,
               count() AS spans, sum(f.self_ms) AS self_ms, countIf(f.own_error) AS own_errors
        FROM selfed AS f INNER JOIN phases AS p ON f.TraceId = p.TraceId
        GROUP BY service, operation, after
        ORDER BY service, operation, after
    """
    frame = wh.frame(sql, params)
    counts = dict(
        wh.rows(
            f"WITH {_self_time_spans(wh, chosen)} "
            "SELECT after, count() FROM (SELECT TraceId, min(Timestamp) >= {onset:DateTime64(3)} "
            "AS after FROM spans GROUP BY TraceId) GROUP BY after",
            params,
        )
    )
    return frame, {bool(k): int(v) for k, v in counts.items()}


def version_split(
    wh: Warehouse,
    service: str,
    operation: str | None,
    start: datetime,
    onset: datetime,
    end: datetime,
) -> pl.DataFrame:
    """Self time and own error rate of one service's spans, per version, before/after onset.

    ``operation`` narrows it to the origin operation when the service is the origin.
    """
    params: dict[str, Any] = {
        "start": _naive(start),
        "end": _naive(end),
        "onset": _naive(onset),
        "service": service,
        "op": operation or "",
    }
    chosen = f"""
        SELECT DISTINCT TraceId FROM {wh.table("otel_traces")}
        WHERE ServiceName = {{service:String}}
          AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
        ORDER BY cityHash64(TraceId) LIMIT 40000
    """
    sql = f"""
        WITH {_self_time_spans(wh, chosen)}
        SELECT version, Timestamp >= {{onset:DateTime64(3)}} AS after, count() AS spans,
               avg(self_ms) AS mean_self_ms, quantile(0.95)(self_ms) AS p95_self_ms,
               avg(own_error) AS own_error_rate, min(Timestamp) AS first_seen
        FROM selfed
        WHERE ServiceName = {{service:String}} AND ({{op:String}} = '' OR SpanName = {{op:String}})
        GROUP BY version, after
        ORDER BY version, after
    """
    return wh.frame(sql, params)


def service_graph(wh: Warehouse, start: datetime, end: datetime) -> pl.DataFrame:
    """Caller -> callee service edges seen in traces (parent span in one, child in another)."""
    traces = wh.table("otel_traces")
    sql = f"""
        SELECT p.ServiceName AS caller, c.ServiceName AS callee, count() AS calls
        FROM (
            SELECT TraceId, SpanId, ServiceName FROM {traces}
            WHERE Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
        ) AS p
        INNER JOIN (
            SELECT TraceId, ParentSpanId, ServiceName FROM {traces}
            WHERE ParentSpanId != ''
              AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
        ) AS c ON p.TraceId = c.TraceId AND p.SpanId = c.ParentSpanId
        WHERE p.ServiceName != c.ServiceName
        GROUP BY caller, callee
        UNION ALL
        SELECT ServiceName AS caller, SpanAttributes['peer.service'] AS callee, count() AS calls
        FROM {traces}
        WHERE SpanKind = 'Client' AND SpanAttributes['peer.service'] != ''
          AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
        GROUP BY caller, callee
    """
    return wh.frame(sql, {"start": _naive(start), "end": _naive(end)})


def deployments(wh: Warehouse, start: datetime, end: datetime, environment: str) -> pl.DataFrame:
    """Deployments started in [start, end] (latest version of each row), optionally one env."""
    sql = f"""
        SELECT DeploymentId AS deployment_id, argMax(Service, IngestedAt) AS service,
               argMax(Version, IngestedAt) AS version, argMax(CommitSha, IngestedAt) AS commit_sha,
               argMax(Environment, IngestedAt) AS environment,
               argMax(StartedAt, IngestedAt) AS started_at,
               argMax(FinishedAt, IngestedAt) AS finished_at,
               argMax(Status, IngestedAt) AS status, argMax(Repo, IngestedAt) AS repo
        FROM {wh.table("andon_deployments")}
        GROUP BY DeploymentId
        HAVING started_at >= {{start:DateTime64(3)}} AND started_at <= {{end:DateTime64(3)}}
           AND ({{env:String}} = '' OR environment = {{env:String}})
           AND status NOT IN ('failure', 'failed', 'cancelled')
        ORDER BY started_at, deployment_id
    """
    return wh.frame(sql, {"start": _naive(start), "end": _naive(end), "env": environment})


def previous_versions(wh: Warehouse, services: Sequence[str], before: datetime) -> dict[str, str]:
    """The version each service ran before ``before`` (its last deployment then)."""
    rows = wh.rows(
        f"""
        SELECT service, argMax(version, started_at) FROM (
            SELECT DeploymentId, argMax(Service, IngestedAt) AS service,
                   argMax(Version, IngestedAt) AS version,
                   argMax(StartedAt, IngestedAt) AS started_at
            FROM {wh.table("andon_deployments")} GROUP BY DeploymentId
        ) WHERE started_at < {{before:DateTime64(3)}} AND service IN {{services:Array(String)}}
        GROUP BY service
        """,
        {"before": _naive(before), "services": list(services)},
    )
    return {str(s): str(v) for s, v in rows}


def pull_requests(wh: Warehouse, shas: Sequence[str]) -> pl.DataFrame:
    """Merged PRs whose merge commit is one of ``shas`` (full or abbreviated SHAs)."""
    if not shas:
        return pl.DataFrame()
    sql = f"""
        SELECT Repo AS repo, Number AS number, argMax(Title, IngestedAt) AS title,
               argMax(Author, IngestedAt) AS author, argMax(MergedAt, IngestedAt) AS merged_at,
               argMax(MergeCommitSha, IngestedAt) AS merge_commit_sha,
               argMax(Files, IngestedAt) AS files, argMax(Url, IngestedAt) AS url
        FROM {wh.table("andon_pull_requests")}
        GROUP BY Repo, Number
        HAVING arrayExists(s -> s != '' AND (startsWith(merge_commit_sha, s)
                           OR startsWith(s, merge_commit_sha)), {{shas:Array(String)}})
               AND merge_commit_sha != ''
    """
    return wh.frame(sql, {"shas": [s.lower() for s in shas if s]})


def gate_verdicts(wh: Warehouse, pr_numbers: Sequence[int], shas: Sequence[str]) -> pl.DataFrame:
    """Every gate verdict recorded for these PRs or commits."""
    sql = f"""
        SELECT VerdictId AS verdict_id, argMax(Gate, IngestedAt) AS gate,
               argMax(Verdict, IngestedAt) AS verdict, argMax(PrNumber, IngestedAt) AS pr_number,
               argMax(CommitSha, IngestedAt) AS commit_sha, argMax(At, IngestedAt) AS at,
               argMax(Environment, IngestedAt) AS environment,
               argMax(Measurements, IngestedAt) AS measurements,
               argMax(Details, IngestedAt) AS details
        FROM {wh.table("andon_gate_verdicts")}
        GROUP BY VerdictId
        HAVING (pr_number != 0 AND pr_number IN {{prs:Array(UInt64)}})
            OR (commit_sha != '' AND arrayExists(s -> s != '' AND (startsWith(commit_sha, s)
                OR startsWith(s, commit_sha)), {{shas:Array(String)}}))
        ORDER BY at, gate, verdict_id
    """
    return wh.frame(
        sql, {"prs": [int(p) for p in pr_numbers], "shas": [s.lower() for s in shas if s]}
    )


def error_fingerprints(wh: Warehouse, start: datetime, end: datetime) -> pl.DataFrame:
    """Fingerprints seen in [start, end) with when each was first seen ever, where, and how often."""
    errors = wh.table("andon_errors")
    sql = f"""
        SELECT w.Fingerprint AS fingerprint, w.service AS service, w.version AS version,
               w.route AS route, w.exception_type AS exception_type, w.culprit AS culprit,
               w.events AS events, w.users AS users, w.sessions AS sessions,
               w.first_in_window AS first_in_window, w.last_in_window AS last_in_window,
               f.first_seen AS first_seen,
               w.trace_ids AS trace_ids
        FROM (
            SELECT Fingerprint, any(ServiceName) AS service, any(ServiceVersion) AS version,
                   any(Route) AS route, any(ExceptionType) AS exception_type,
                   any(Culprit) AS culprit, uniqExact(ErrorId) AS events,
                   uniqExactIf(UserId, UserId != '') AS users,
                   uniqExactIf(SessionId, SessionId != '') AS sessions,
                   min(Timestamp) AS first_in_window, max(Timestamp) AS last_in_window,
                   groupUniqArray(3)(TraceId) AS trace_ids
            FROM {errors}
            WHERE Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
            GROUP BY Fingerprint
        ) AS w
        INNER JOIN (
            SELECT Fingerprint, min(Timestamp) AS first_seen FROM {errors} GROUP BY Fingerprint
        ) AS f ON w.Fingerprint = f.Fingerprint
        ORDER BY events DESC
    """
    return wh.frame(sql, {"start": _naive(start), "end": _naive(end)})


def fingerprint_minutes(
    wh: Warehouse, fingerprints: Sequence[str], start: datetime, end: datetime
) -> pl.DataFrame:
    """Events per minute of some fingerprints (for new-error spikes)."""
    sql = f"""
        SELECT Fingerprint AS fingerprint, toDateTime64(toStartOfMinute(Timestamp), 3) AS minute,
               uniqExact(ErrorId) AS events
        FROM {wh.table("andon_errors")}
        WHERE Fingerprint IN {{fps:Array(String)}}
          AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
        GROUP BY fingerprint, minute ORDER BY fingerprint, minute
    """
    return wh.frame(sql, {"fps": list(fingerprints), "start": _naive(start), "end": _naive(end)})


def sample_traces(
    wh: Warehouse, pairs: Sequence[tuple[str, str]], start: datetime, end: datetime, limit: int = 5
) -> list[str]:
    """Trace ids of the slowest or failing requests on the degraded routes after onset."""
    rows = wh.rows(
        f"""
        SELECT TraceId FROM {wh.table("otel_traces")}
        WHERE {ENTRY} AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
          AND concat(ServiceName, '{SEP}', SpanName) IN {{keys:Array(String)}}
        GROUP BY TraceId
        ORDER BY max({IS_ERROR}) DESC, max(Duration) DESC, TraceId LIMIT {{n:UInt32}}
        """,
        {
            "start": _naive(start),
            "end": _naive(end),
            "keys": [key(s, r) for s, r in pairs],
            "n": limit,
        },
    )
    return [str(r[0]) for r in rows]


def route_stats(
    wh: Warehouse,
    pairs: Sequence[tuple[str, str]],
    onset: datetime,
    before: timedelta,
    end: datetime,
) -> pl.DataFrame:
    """Per degraded (service, operation), before vs after the onset: p50/p95/p99 ms, error rate,
    mean and peak requests per second."""
    sql = f"""
        SELECT service, operation, any(route) AS route, after,
               quantile(0.5)(Duration) / 1e6 AS p50_ms, quantile(0.95)(Duration) / 1e6 AS p95_ms,
               quantile(0.99)(Duration) / 1e6 AS p99_ms, avg(err) AS error_rate,
               count() AS requests, uniqExact(minute) AS minutes,
               max(per_minute) / 60.0 AS peak_rps
        FROM (
            SELECT ServiceName AS service, SpanName AS operation, {ROUTE} AS route, Duration,
                   {IS_ERROR} AS err,
                   Timestamp >= {{onset:DateTime64(3)}} AS after,
                   toStartOfMinute(Timestamp) AS minute,
                   count() OVER (PARTITION BY ServiceName, SpanName, toStartOfMinute(Timestamp))
                       AS per_minute
            FROM {wh.table("otel_traces")}
            WHERE {ENTRY} AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
              AND concat(ServiceName, '{SEP}', SpanName) IN {{keys:Array(String)}}
        )
        GROUP BY service, operation, after
        ORDER BY service, operation, after
    """
    return wh.frame(
        sql,
        {
            "start": _naive(onset - before),
            "end": _naive(end),
            "onset": _naive(onset),
            "keys": [key(s, r) for s, r in pairs],
        },
    )


def span_environments(
    wh: Warehouse, services: Sequence[str], start: datetime, end: datetime
) -> list[str]:
    """The deployment environments the services' spans report (resource attribute)."""
    rows = wh.rows(
        f"""
        SELECT DISTINCT if(ResourceAttributes['deployment.environment.name'] != '',
                           ResourceAttributes['deployment.environment.name'],
                           ResourceAttributes['deployment.environment']) AS env
        FROM {wh.table("otel_traces")}
        WHERE ServiceName IN {{services:Array(String)}}
          AND Timestamp >= {{start:DateTime64(3)}} AND Timestamp < {{end:DateTime64(3)}}
          AND env != ''
        LIMIT 10
        """,
        {"services": list(services), "start": _naive(start), "end": _naive(end)},
    )
    return sorted(str(r[0]) for r in rows)


def entry_operation(
    wh: Warehouse, service: str, trace_ids: Sequence[str]
) -> tuple[str, str] | None:
    """(operation, route) of the service's entry span in these traces (the most common one)."""
    if not trace_ids:
        return None
    rows = wh.rows(
        f"""
        SELECT SpanName, any({ROUTE}) FROM {wh.table("otel_traces")}
        WHERE ServiceName = {{service:String}} AND {ENTRY} AND TraceId IN {{ids:Array(String)}}
        GROUP BY SpanName ORDER BY count() DESC, SpanName LIMIT 1
        """,
        {"service": service, "ids": list(trace_ids)},
    )
    return (str(rows[0][0]), str(rows[0][1])) if rows else None
