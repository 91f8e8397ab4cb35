"""Generate andon's Grafana dashboards (``dashboards/*.json``) from the definitions below.

The dashboards use the official ClickHouse data source plugin (grafana-clickhouse-datasource,
v4): raw SQL targets with its macros (``$__timeFilter(col)``, ``$__timeInterval(col)``,
``$__fromTime``, ``$__toTime``, ``$__interval_s``). Table names are unqualified: the data source's
default database is andon's (see ``provisioning/datasources/andon.yaml``).

    .venv/bin/python dashboards/build.py          # rewrite the JSON files
    .venv/bin/python dashboards/build.py --check  # exit 1 if a JSON file is out of date

The JSON files are committed, so Grafana users never need to run this; `tests/dashboards`
checks they are up to date and runs every query against a warehouse filled by the simulator.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DS = {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}
FORMAT_TIMESERIES, FORMAT_TABLE = 0, 1
ALL = "__all"

# A span is a user-facing step when it is a root span (docs/ARCHITECTURE.md).
STEP = "if(SpanAttributes['http.route'] != '', SpanAttributes['http.route'], SpanName)"
SERVICE_FILTER = f"('${{service}}' = '{ALL}' OR ServiceName = '${{service}}')"
PLATFORM = (
    "multiIf(SpanAttributes['app.platform'] != '', SpanAttributes['app.platform'], "
    "ResourceAttributes['os.name'] != '', ResourceAttributes['os.name'], "
    "SpanAttributes['browser.name'] != '', SpanAttributes['browser.name'], 'unknown')"
)
TICKETS_NOW = (
    "(SELECT TicketId, argMax(ToStatus, Version) AS Status, argMax(Snapshot, Version) AS Snapshot,"
    " argMax(Priority, Version) AS Priority, argMax(Kind, Version) AS Kind,"
    " min(At) AS ProposedAt, max(At) AS LastEventAt FROM andon_ticket_events GROUP BY TicketId)"
)
INCIDENTS_NOW = (
    "(SELECT IncidentId, argMax(Status, Version) AS Status, argMax(Service, Version) AS Service,"
    " argMax(Route, Version) AS Route, argMax(Signal, Version) AS Signal,"
    " argMax(Onset, Version) AS Onset, argMax(Payload, Version) AS Payload"
    " FROM andon_incident_events GROUP BY IncidentId)"
)
JOB_RUNS_NOW = "(SELECT * FROM andon_job_runs ORDER BY Version DESC LIMIT 1 BY RunId)"


def target(sql: str, fmt: int, ref: str = "A") -> dict[str, Any]:
    """One raw-SQL query of the ClickHouse plugin."""
    return {
        "datasource": DS,
        "editorType": "sql",
        "format": fmt,
        "queryType": "timeseries" if fmt == FORMAT_TIMESERIES else "table",
        "rawSql": " ".join(sql.split()),
        "refId": ref,
    }


def stat(
    title: str, sql: str, description: str, unit: str = "short", **grid: int
) -> dict[str, Any]:
    """One number (the query returns one row, one numeric column)."""
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "targets": [target(sql, FORMAT_TABLE)],
        "fieldConfig": {"defaults": {"unit": unit, "decimals": 1 if unit == "percentunit" else 0}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value", "graphMode": "none", "textMode": "value"},
        "_grid": {"w": 6, "h": 4, **grid},
    }  # fmt: skip


def timeseries(
    title: str, sql: str, description: str, unit: str = "short", **grid: int
) -> dict[str, Any]:
    """A time series: column ``time``, optional label columns, numeric columns (long format)."""
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "targets": [target(sql, FORMAT_TIMESERIES)],
        "fieldConfig": {"defaults": {"unit": unit, "custom": {"drawStyle": "line", "lineWidth": 2, "fillOpacity": 10, "spanNulls": False}}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}, "tooltip": {"mode": "multi", "sort": "desc"}},
        "_grid": {"w": 12, "h": 8, **grid},
    }  # fmt: skip


def table(
    title: str, sql: str, description: str, units: dict[str, str] | None = None, **grid: int
) -> dict[str, Any]:
    """A table; ``units`` sets the unit of named columns."""
    overrides = [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "unit", "value": unit}],
        }
        for name, unit in (units or {}).items()
    ]
    return {
        "type": "table",
        "title": title,
        "description": description,
        "targets": [target(sql, FORMAT_TABLE)],
        "fieldConfig": {"defaults": {"custom": {"align": "auto"}}, "overrides": overrides},
        "options": {"showHeader": True, "cellHeight": "sm"},
        "_grid": {"w": 24, "h": 8, **grid},
    }  # fmt: skip


def barchart(
    title: str, sql: str, description: str, unit: str = "short", **grid: int
) -> dict[str, Any]:
    """Bars: a label column then numeric columns."""
    return {
        "type": "barchart",
        "title": title,
        "description": description,
        "targets": [target(sql, FORMAT_TABLE)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"orientation": "horizontal", "showValue": "auto", "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"}, "xTickLabelRotation": 0},
        "_grid": {"w": 12, "h": 8, **grid},
    }  # fmt: skip


def annotation(name: str, sql: str, color: str) -> dict[str, Any]:
    """An annotation query: columns ``time``, optional ``timeEnd``, ``text``, ``tags``."""
    return {
        "name": name,
        "datasource": DS,
        "enable": True,
        "iconColor": color,
        "target": target(sql, FORMAT_TABLE, ref="Anno"),
    }


def service_variable() -> dict[str, Any]:
    sql = "SELECT DISTINCT ServiceName FROM otel_traces WHERE $__timeFilter(Timestamp) ORDER BY ServiceName"
    return {
        "name": "service",
        "label": "Service",
        "type": "query",
        "datasource": DS,
        "query": sql,
        "definition": sql,
        "includeAll": True,
        "allValue": ALL,
        "multi": False,
        "refresh": 2,
        "current": {"selected": True, "text": "All", "value": "$__all"},
        "sort": 1,
    }


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "ClickHouse",
        "type": "datasource",
        "query": "grafana-clickhouse-datasource",
        "current": {"text": "andon ClickHouse", "value": "andon-clickhouse"},
        "hide": 0,
    }


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place panels left to right, wrapping at 24 columns; assign ids."""
    x = y = row_h = 0
    placed = []
    for number, panel in enumerate(panels, start=1):
        grid = panel.pop("_grid")
        if x + grid["w"] > 24:
            x, y, row_h = 0, y + row_h, 0
        panel = {"id": number, "datasource": DS, "gridPos": {"x": x, "y": y, **grid}, **panel}
        x += grid["w"]
        row_h = max(row_h, grid["h"])
        placed.append(panel)
    return placed


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict[str, Any]],
    annotations: list[dict[str, Any]] | None = None,
    variables: list[dict[str, Any]] | None = None,
    time_from: str = "now-24h",
) -> dict[str, Any]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["andon"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": time_from, "to": "now"},
        "annotations": {"list": [builtin, *(annotations or [])]},
        "templating": {"list": [datasource_variable(), *(variables or [])]},
        "links": [
            {
                "title": "andon dashboards",
                "type": "dashboards",
                "tags": ["andon"],
                "asDropdown": True,
            }
        ],
        "panels": layout(panels),
    }


# -- the dashboards ----------------------------------------------------------------------------


def ingest_health() -> dict[str, Any]:
    return dashboard(
        "andon-ingest",
        "andon · Ingest health",
        "Is telemetry arriving? Spans, logs, error events and support tickets per service, and the state of andon's scheduled jobs.",
        [
            stat("Spans", f"SELECT count() AS spans FROM otel_traces WHERE $__timeFilter(Timestamp) AND {SERVICE_FILTER}", "Spans stored in the time range."),
            stat("Log records", f"SELECT count() AS logs FROM otel_logs WHERE $__timeFilter(Timestamp) AND {SERVICE_FILTER}", "Log records stored in the time range."),
            stat("Error events", f"SELECT uniqExact(ErrorId) AS errors FROM andon_errors WHERE $__timeFilter(Timestamp) AND {SERVICE_FILTER}", "Distinct error events (span exceptions, ERROR logs, Sentry events)."),
            stat("Minutes since the last span", f"SELECT dateDiff('minute', max(Timestamp), now64(9)) AS minutes FROM otel_traces WHERE {SERVICE_FILTER}", "How long ago the newest span happened: a growing number means telemetry stopped arriving.", unit="m"),
            timeseries("Spans per interval, by service", f"SELECT $__timeInterval(Timestamp) AS time, ServiceName, count() AS spans FROM otel_traces WHERE $__timeFilter(Timestamp) AND {SERVICE_FILTER} GROUP BY time, ServiceName ORDER BY time", "Spans received per interval for each service."),
            timeseries("Share of spans with an error status", f"SELECT $__timeInterval(Timestamp) AS time, ServiceName, countIf(StatusCode = 'Error') / count() AS error_share FROM otel_traces WHERE $__timeFilter(Timestamp) AND {SERVICE_FILTER} GROUP BY time, ServiceName ORDER BY time", "Spans with StatusCode = Error divided by all spans, per service.", unit="percentunit"),
            timeseries("Log records by severity", f"SELECT $__timeInterval(Timestamp) AS time, if(SeverityText = '', 'UNSET', SeverityText) AS severity, count() AS records FROM otel_logs WHERE $__timeFilter(Timestamp) AND {SERVICE_FILTER} GROUP BY time, severity ORDER BY time", "Log records per interval by severity."),
            timeseries("Support tickets created", "SELECT $__timeInterval(CreatedAt) AS time, if(Channel = '', 'unknown', Channel) AS channel, uniqExact(TicketId) AS tickets FROM andon_support_tickets WHERE $__timeFilter(CreatedAt) GROUP BY time, channel ORDER BY time", "Support tickets by the time they were opened, per channel."),
            table("Services", f"SELECT ServiceName AS service, count() AS spans, countIf(StatusCode = 'Error') / count() AS error_share, quantile(0.95)(Duration) / 1e6 AS p95_ms, arrayStringConcat(arraySort(groupUniqArray(10)(ResourceAttributes['service.version'])), ', ') AS versions, max(Timestamp) AS last_span FROM otel_traces WHERE $__timeFilter(Timestamp) AND {SERVICE_FILTER} GROUP BY service ORDER BY spans DESC", "Per service: spans, share with errors, 95th percentile duration, versions seen, newest span.", units={"error_share": "percentunit", "p95_ms": "ms"}),
            table("Scheduled jobs", f"SELECT Job AS job, argMax(Status, StartedAt) AS last_status, max(StartedAt) AS last_started, countIf(Status = 'failed') AS failed_runs, countIf(Status = 'succeeded') AS succeeded_runs, round(avgIf(DurationMs, Status = 'succeeded') / 1000, 1) AS avg_seconds, argMaxIf(Error, StartedAt, Status = 'failed') AS last_error FROM {JOB_RUNS_NOW} WHERE $__timeFilter(StartedAt) GROUP BY job ORDER BY job", "andon's scheduled jobs: last status, failures and typical duration in the time range.", units={"avg_seconds": "s"}),
            table("Warehouse tables", "SELECT name AS table, total_rows AS rows, total_bytes AS bytes FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' ORDER BY total_bytes DESC", "Rows and bytes on disk per table of andon's database.", units={"bytes": "bytes"}),
        ],
        variables=[service_variable()],
    )  # fmt: skip


def friction_overview() -> dict[str, Any]:
    roots = f"ParentSpanId = '' AND $__timeFilter(Timestamp) AND {SERVICE_FILTER}"
    return dashboard(
        "andon-friction",
        "andon · Friction overview",
        "Where real users struggle: user actions (root spans) with their failures and slowness, the friction clusters andon found, and support-ticket volume.",
        [
            stat("Sessions", f"SELECT uniqExact(SpanAttributes['session.id']) AS sessions FROM otel_traces WHERE {roots} AND SpanAttributes['session.id'] != ''", "Distinct sessions with at least one user action."),
            stat("Users", f"SELECT uniqExact(SpanAttributes['enduser.id']) AS users FROM otel_traces WHERE {roots} AND SpanAttributes['enduser.id'] != ''", "Distinct users with at least one user action."),
            stat("User actions that failed", f"SELECT countIf(StatusCode = 'Error' OR toUInt16OrZero(SpanAttributes['http.response.status_code']) >= 500) / count() AS failed FROM otel_traces WHERE {roots}", "Share of user actions (root spans) that ended in an error.", unit="percentunit"),
            stat("Friction clusters (latest analysis)", "SELECT count() AS clusters FROM andon_clusters WHERE RunId = (SELECT argMax(RunId, CreatedAt) FROM andon_clusters WHERE $__timeFilter(WindowEnd))", "Clusters found by the newest analysis run whose window ends in the time range."),
            table("User actions", f"SELECT {STEP} AS step, uniqExact(SpanAttributes['session.id']) AS sessions, count() AS attempts, countIf(StatusCode = 'Error' OR toUInt16OrZero(SpanAttributes['http.response.status_code']) >= 500) / count() AS failed_share, quantile(0.75)(Duration) / 1e6 AS p75_ms, quantile(0.95)(Duration) / 1e6 AS p95_ms FROM otel_traces WHERE {roots} GROUP BY step ORDER BY sessions DESC LIMIT 50", "Each user-facing step: sessions, attempts, failure share and durations.", units={"failed_share": "percentunit", "p75_ms": "ms", "p95_ms": "ms"}),
            timeseries("Failed user actions, by step", f"SELECT $__timeInterval(Timestamp) AS time, {STEP} AS step, countIf(StatusCode = 'Error' OR toUInt16OrZero(SpanAttributes['http.response.status_code']) >= 500) / count() AS failed_share FROM otel_traces WHERE {roots} GROUP BY time, step ORDER BY time", "Share of attempts of each step that failed, per interval.", unit="percentunit"),
            timeseries("Slowness of user actions (p75), by step", f"SELECT $__timeInterval(Timestamp) AS time, {STEP} AS step, quantile(0.75)(Duration) / 1e6 AS p75_ms FROM otel_traces WHERE {roots} GROUP BY time, step ORDER BY time", "75th percentile duration of each step, per interval.", unit="ms"),
            barchart("Failed user actions, by platform", f"SELECT {PLATFORM} AS platform, countIf(StatusCode = 'Error' OR toUInt16OrZero(SpanAttributes['http.response.status_code']) >= 500) / count() AS failed_share FROM otel_traces WHERE {roots} GROUP BY platform ORDER BY failed_share DESC LIMIT 20", "Share of user actions that failed on each platform (app.platform, else os.name, else browser).", unit="percentunit"),
            table("Friction clusters (latest analysis)", "SELECT Rank AS rank, Title AS finding, Kind AS kind, Flow AS flow, Step AS step, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), mapKeys(Segment), mapValues(Segment)), ', ') AS segment, Metric AS metric, round(Value, 4) AS value, round(Baseline, 4) AS baseline, AffectedSessions AS affected_sessions, round(Score, 2) AS score FROM andon_clusters WHERE RunId = (SELECT argMax(RunId, CreatedAt) FROM andon_clusters WHERE $__timeFilter(WindowEnd)) ORDER BY rank", "What the newest analysis found, ranked by impact. Open the andon console to review the tickets drafted from them."),
            timeseries("Support tickets", "SELECT $__timeInterval(CreatedAt) AS time, uniqExact(TicketId) AS tickets FROM andon_support_tickets WHERE $__timeFilter(CreatedAt) GROUP BY time ORDER BY time", "Support tickets opened per interval."),
        ],
        variables=[service_variable()],
        time_from="now-7d",
    )  # fmt: skip


def incidents() -> dict[str, Any]:
    servers = f"SpanKind = 'Server' AND $__timeFilter(Timestamp) AND {SERVICE_FILTER}"
    return dashboard(
        "andon-incidents",
        "andon · Incidents and deploys",
        "Service latency and errors with deployments and incident onsets marked on every chart, the incidents andon detected, and the gate verdicts behind recent deploys.",
        [
            stat("Open incidents", f"SELECT countIf(Status = 'open') AS open FROM {INCIDENTS_NOW}", "Incidents detected or declared and not yet resolved."),
            stat("Incidents in range", f"SELECT count() AS incidents FROM {INCIDENTS_NOW} WHERE $__timeFilter(Onset)", "Incidents whose degradation started in the time range."),
            stat("Deployments in range", "SELECT uniqExact(DeploymentId) AS deployments FROM andon_deployments WHERE $__timeFilter(StartedAt)", "Deployments started in the time range."),
            stat("Failed or waived gate verdicts", "SELECT countIf(Verdict IN ('fail', 'waived')) AS verdicts FROM andon_gate_verdicts WHERE $__timeFilter(At)", "CI gate verdicts that failed or were waived in the time range."),
            timeseries("Server latency (p95), by service", f"SELECT $__timeInterval(Timestamp) AS time, ServiceName, quantile(0.95)(Duration) / 1e6 AS p95_ms FROM otel_traces WHERE {servers} GROUP BY time, ServiceName ORDER BY time", "95th percentile duration of server spans per service. Deployments and incident onsets are marked.", unit="ms"),
            timeseries("Server errors, by service", f"SELECT $__timeInterval(Timestamp) AS time, ServiceName, countIf(StatusCode = 'Error' OR toUInt16OrZero(SpanAttributes['http.response.status_code']) >= 500) / count() AS error_share FROM otel_traces WHERE {servers} GROUP BY time, ServiceName ORDER BY time", "Share of server spans that failed, per service.", unit="percentunit"),
            timeseries("Requests per second, by service", f"SELECT $__timeInterval(Timestamp) AS time, ServiceName, count() / $__interval_s AS rps FROM otel_traces WHERE {servers} GROUP BY time, ServiceName ORDER BY time", "Server spans per second.", unit="reqps"),
            timeseries("New error events, by service", f"SELECT $__timeInterval(Timestamp) AS time, ServiceName, uniqExact(ErrorId) AS errors FROM andon_errors WHERE $__timeFilter(Timestamp) AND {SERVICE_FILTER} GROUP BY time, ServiceName ORDER BY time", "Error events per interval."),
            table("Incidents", f"SELECT IncidentId AS incident, Status AS status, JSONExtractString(Payload, 'severity') AS severity, Service AS service, Route AS route, Signal AS signal, Onset AS onset, JSONExtractString(Payload, 'title') AS title, JSONExtractString(Payload, 'suspects', 1, 'deployment_id') AS top_suspect, JSONExtract(Payload, 'suspects', 1, 'pr_number', 'Nullable(Int64)') AS suspect_pr FROM {INCIDENTS_NOW} WHERE $__timeFilter(Onset) ORDER BY onset DESC", "Incidents in the time range with their most likely cause (top-ranked suspect deployment and its pull request). The full brief is in the andon console."),
            table("Deployments and their gate verdicts", "SELECT d.StartedAt AS started, d.Service AS service, d.Version AS version, d.Environment AS environment, d.Status AS status, d.CommitSha AS commit, countIf(g.Verdict = 'pass') AS gates_passed, countIf(g.Verdict = 'fail') AS gates_failed, countIf(g.Verdict = 'waived') AS gates_waived FROM (SELECT * FROM andon_deployments FINAL WHERE $__timeFilter(StartedAt)) AS d LEFT JOIN andon_gate_verdicts AS g ON g.CommitSha = d.CommitSha AND d.CommitSha != '' GROUP BY started, service, version, environment, status, commit ORDER BY started DESC", "Deployments in the time range and how their commit fared in CI gates."),
        ],
        annotations=[
            annotation("Deployments", "SELECT StartedAt AS time, FinishedAt AS timeEnd, concat('Deploy ', Service, ' ', Version, ' (', Environment, ')') AS text, arrayStringConcat(['deploy', Service], ',') AS tags FROM andon_deployments FINAL WHERE $__timeFilter(StartedAt) ORDER BY time", "blue"),
            annotation("Incident onsets", f"SELECT Onset AS time, concat('Incident ', IncidentId, ': ', Service, ' ', Route, ' ', Signal) AS text, arrayStringConcat(['incident', Status], ',') AS tags FROM {INCIDENTS_NOW} WHERE $__timeFilter(Onset) ORDER BY time", "red"),
        ],
        variables=[service_variable()],
    )  # fmt: skip


def ticket_pipeline() -> dict[str, Any]:
    return dashboard(
        "andon-tickets",
        "andon · Ticket pipeline",
        "From analysis to tracker: analysis runs, tickets drafted, reviewed by people and exported, and how long review takes.",
        [
            stat("Waiting for review", f"SELECT countIf(Status = 'proposed') AS waiting FROM {TICKETS_NOW}", "Tickets drafted by andon that no one has approved or rejected yet."),
            stat("Approved in range", "SELECT uniqExactIf(TicketId, Action IN ('approved', 'auto_approved')) AS approved FROM andon_ticket_events WHERE $__timeFilter(At)", "Tickets approved in the time range."),
            stat("Exported in range", "SELECT uniqExactIf(TicketId, Action = 'exported') AS exported FROM andon_ticket_events WHERE $__timeFilter(At)", "Tickets sent to the tracker in the time range."),
            stat("Median hours to a decision", "SELECT round(median(dateDiff('second', proposed, decided)) / 3600, 1) AS hours FROM (SELECT TicketId, minIf(At, Action = 'proposed') AS proposed, minIf(At, Action IN ('approved', 'auto_approved', 'rejected')) AS decided FROM andon_ticket_events GROUP BY TicketId HAVING decided > toDateTime64(0, 3) AND proposed > toDateTime64(0, 3) AND $__timeFilter(decided))", "Median time from a ticket being proposed to a person approving or rejecting it.", unit="h"),
            timeseries("Ticket events, by action", "SELECT $__timeInterval(At) AS time, Action AS action, count() AS events FROM andon_ticket_events WHERE $__timeFilter(At) GROUP BY time, action ORDER BY time", "Proposed, approved, rejected, edited and exported tickets per interval."),
            timeseries("Analysis runs, by outcome", "SELECT $__timeInterval(StartedAt) AS time, Status AS status, count() AS runs FROM (SELECT RunId, argMax(Status, Version) AS Status, min(StartedAt) AS StartedAt FROM andon_runs GROUP BY RunId) WHERE $__timeFilter(StartedAt) GROUP BY time, status ORDER BY time", "Batch analysis cycles that succeeded or failed."),
            table("Review queue", f"SELECT TicketId AS ticket, JSONExtractString(Snapshot, 'title') AS title, Priority AS priority, Kind AS kind, Status AS status, ProposedAt AS proposed, round(dateDiff('second', ProposedAt, now64(3)) / 3600, 1) AS waiting_hours FROM {TICKETS_NOW} WHERE Status IN ('proposed', 'draft', 'edited') ORDER BY priority, proposed", "Tickets waiting for a person, most urgent first. Review them in the andon console.", units={"waiting_hours": "h"}),
            table("Recent decisions", "SELECT At AS at, TicketId AS ticket, Action AS action, Actor AS by, Reason AS reason, JSONExtractString(Snapshot, 'title') AS title FROM andon_ticket_events WHERE $__timeFilter(At) AND Action IN ('approved', 'auto_approved', 'rejected', 'edited', 'exported') ORDER BY at DESC LIMIT 100", "Who approved, rejected, edited or exported which ticket, and why."),
            table("Analysis runs", "SELECT RunId AS run, argMax(Status, Version) AS status, min(StartedAt) AS started, max(WindowStart) AS window_start, max(WindowEnd) AS window_end, round(dateDiff('millisecond', min(StartedAt), max(FinishedAt)) / 1000, 1) AS seconds, argMax(Error, Version) AS error FROM andon_runs WHERE $__timeFilter(StartedAt) GROUP BY run ORDER BY started DESC LIMIT 50", "The batch cycles behind the tickets: window, outcome and duration.", units={"seconds": "s"}),
        ],
        time_from="now-7d",
    )  # fmt: skip


DASHBOARDS = {
    "andon-ingest-health.json": ingest_health,
    "andon-friction-overview.json": friction_overview,
    "andon-incidents.json": incidents,
    "andon-ticket-pipeline.json": ticket_pipeline,
}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        path = HERE / name
        text = render(build)
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)} (run: python dashboards/build.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
