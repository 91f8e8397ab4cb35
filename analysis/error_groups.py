"""Error groups: new and regressed error fingerprints, with the users and sessions they hit.

Read from ``andon_errors`` (filled by error derivation and the Sentry receiver), counting
``uniqExact(ErrorId)`` so duplicates never change a figure.

- *new*: a fingerprint never seen before the window, whose first occurrence comes well after the
  start of the telemetry (so the first hours of a fresh warehouse do not make everything "new");
- *regressed*: sessions hitting it rose significantly against the previous window of the same
  length (two-proportion test over sessions, Benjamini-Hochberg across fingerprints).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np

from analysis.config import AnalysisSettings
from analysis.evidence_sql import render
from analysis.models import Cluster, EvidenceItem
from analysis.stats import benjamini_hochberg, two_proportion_greater, wilson
from warehouse import Warehouse

NEW_AFTER_SHARE = 0.1  # "new" only if first seen after 10% of the observed span


def groups_sql(wh: Warehouse) -> str:
    """Per fingerprint over [since, until): errors, sessions, users, first seen, examples."""
    return f"""
SELECT
    Fingerprint AS fingerprint,
    any(ExceptionType) AS exception_type,
    any(ExceptionMessage) AS message,
    any(Culprit) AS culprit,
    groupUniqArray(ServiceName) AS services,
    groupUniqArray(Route) AS routes,
    uniqExact(ErrorId) AS errors,
    uniqExactIf(SessionId, SessionId != '') AS sessions,
    uniqExactIf(UserId, UserId != '') AS users,
    min(Timestamp) AS first_seen,
    arraySort(groupUniqArray(5)(TraceId)) AS trace_ids
FROM {wh.table("andon_errors")}
WHERE Timestamp >= {{since:DateTime64(9)}} AND Timestamp < {{until:DateTime64(9)}}
GROUP BY Fingerprint
ORDER BY Fingerprint"""


def _seen_before_sql(wh: Warehouse) -> str:
    return f"""
SELECT Fingerprint, uniqExactIf(SessionId, Timestamp >= {{prev:DateTime64(9)}}) AS prev_sessions
FROM {wh.table("andon_errors")}
WHERE Timestamp < {{since:DateTime64(9)}}
GROUP BY Fingerprint"""


def _sessions_sql(wh: Warehouse) -> str:
    return f"""
SELECT uniqExact(SpanAttributes['session.id']) FROM {wh.table("otel_traces")}
WHERE ParentSpanId = '' AND Timestamp >= {{since:DateTime64(9)}} AND Timestamp < {{until:DateTime64(9)}}"""


def error_group_clusters(
    wh: Warehouse, cfg: AnalysisSettings, since: datetime, until: datetime
) -> list[Cluster]:
    """Clusters for new and regressed error fingerprints in the window."""
    params = {"since": since, "until": until}
    rows = wh.rows(groups_sql(wh), params)
    if not rows:
        return []
    prev_start = since - (until - since)
    before = dict(
        (fp, int(n))
        for fp, n in wh.rows(_seen_before_sql(wh), {"since": since, "prev": prev_start})
    )
    data_start = wh.scalar(f"SELECT min(Timestamp) FROM {wh.table('otel_traces')}")
    data_end = min(
        until, wh.scalar(f"SELECT max(Timestamp) FROM {wh.table('otel_traces')}") or until
    )
    start = max(since, data_start) if data_start else since
    new_after = start + (data_end - start) * NEW_AFTER_SHARE
    total_now = int(wh.scalar(_sessions_sql(wh), params) or 0)
    total_prev = int(wh.scalar(_sessions_sql(wh), {"since": prev_start, "until": since}) or 0)
    candidates = []
    for (
        fp,
        etype,
        message,
        culprit,
        services,
        routes,
        errors,
        sessions,
        users,
        first,
        traces,
    ) in rows:
        prev = before.get(fp)
        if prev is None:
            status = "new" if first >= new_after else ""
            p = 0.0 if status else 1.0
        else:
            status = "regressed"
            p = float(two_proportion_greater(np.array([sessions]), np.array([max(total_now, 1)]),
                                             np.array([prev]), np.array([max(total_prev, 1)]))[0])  # fmt: skip
            if total_prev == 0:
                p = 1.0
        candidates.append((fp, etype, message, culprit, services, routes, int(errors),
                           int(sessions), int(users), first, traces, prev or 0, status, p))  # fmt: skip
    q = benjamini_hochberg(np.array([c[-1] for c in candidates]))
    clusters: list[Cluster] = []
    for c, qv in zip(candidates, q, strict=True):
        (fp, etype, message, culprit, services, routes, errors, sessions, users, first, traces,
         prev, status, p) = c  # fmt: skip
        if not status or sessions < cfg.min_sessions or qv > cfg.fdr:
            continue
        rate = sessions / max(total_now, 1)
        prev_rate = prev / max(total_prev, 1) if total_prev else 0.0
        if status == "regressed" and rate - prev_rate < cfg.min_rate_effect / 10:
            continue
        lo, hi = wilson(sessions, max(total_now, 1))
        title = (f"{'New' if status == 'new' else 'Regressed'} error {etype or fp}"
                 f"{' in ' + culprit if culprit else ''}: {errors} errors in {sessions} sessions "
                 f"({users} users)")  # fmt: skip
        values: dict[str, float | int | str] = {
            "errors": errors, "sessions": sessions, "users": users, "previous_sessions": prev,
            "session_rate": round(rate, 5), "previous_session_rate": round(prev_rate, 5),
            "first_seen": first.isoformat(), "status": status,
        }  # fmt: skip
        sql = render(groups_sql(wh).replace("GROUP BY Fingerprint",
                                            "AND Fingerprint = {fp:String}\nGROUP BY Fingerprint"),
                     {**params, "fp": fp})  # fmt: skip
        clusters.append(
            Cluster(
                id="cl-error_group-" + hashlib.sha1(fp.encode()).hexdigest()[:12],
                kind="error_group", step=(routes[0] if len(routes) == 1 else ""),
                metric="error_sessions", value=sessions, baseline=prev, ci_low=lo * total_now,
                ci_high=hi * total_now, p_value=p, q_value=float(qv), affected_sessions=sessions,
                affected_users=users,
                trend=None if status == "new" or not prev else round((sessions - prev) / prev, 4),
                confidence="high" if sessions >= 3 * cfg.min_sessions else "medium",
                score=round(sessions * 0.05 + (5.0 if status == "new" else 0.0), 3),
                title=title, values=values, sql=sql, exemplar_trace_ids=list(traces),
                linked_error_fingerprints=[fp],
                evidence=[
                    EvidenceItem(id="ev-errors", kind="errors", summary=title,
                                 values={"errors": errors, "sessions": sessions, "users": users},
                                 sql=sql, trace_ids=list(traces), error_fingerprints=[fp]),
                ],
                window_start=since, window_end=until,
            )
        )  # fmt: skip
    return clusters


def error_group_reach(
    wh: Warehouse, clusters: list[Cluster], since: datetime, until: datetime
) -> tuple[dict[str, tuple[set[str], set[str]]], dict[str, set[str]]]:
    """Who each ``error_group`` cluster hit, and the words of its error.

    Returns cluster id -> (sessions, users) that hit the fingerprint in [since, until), and
    cluster id -> words of its exception type, message and culprit: what support tickets about
    that error share with it (ticket themes link to error groups through both).
    """
    by_fp = {c.linked_error_fingerprints[0]: c.id for c in clusters
             if c.kind == "error_group" and c.linked_error_fingerprints}  # fmt: skip
    if not by_fp:
        return {}, {}
    rows = wh.rows(
        f"SELECT Fingerprint, groupUniqArrayIf(SessionId, SessionId != ''), "
        f"groupUniqArrayIf(UserId, UserId != ''), any(ExceptionType), any(ExceptionMessage), "
        f"any(Culprit) FROM {wh.table('andon_errors')} "
        "WHERE Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)} "
        "AND Fingerprint IN {fps:Array(String)} GROUP BY Fingerprint",
        {"since": since, "until": until, "fps": sorted(by_fp)},
    )
    reach: dict[str, tuple[set[str], set[str]]] = {}
    words: dict[str, set[str]] = {}
    for fp, sessions, users, etype, message, culprit in rows:
        cid = by_fp[fp]
        reach[cid] = (set(sessions), set(users))
        words[cid] = {w.lower() for w in _split_words(f"{etype} {message} {culprit}")}
    return reach, words


def link_errors(
    wh: Warehouse,
    clusters: list[Cluster],
    error_traces: dict[str, list[str]],
    since: datetime,
    until: datetime,
) -> dict[str, set[str]]:
    """Attach to each friction cluster the error fingerprints its failing steps raised.

    Returns cluster id -> words of those errors' types and messages (for ticket-theme links).
    """
    words: dict[str, set[str]] = {}
    for cluster in clusters:
        traces = error_traces.get(cluster.id)
        if not traces:
            continue
        rows = wh.rows(
            f"SELECT Fingerprint, any(ExceptionType), any(ExceptionMessage), "
            f"uniqExact(ErrorId) AS n FROM {wh.table('andon_errors')} "
            "WHERE Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)} "
            "AND TraceId IN {traces:Array(String)} GROUP BY Fingerprint ORDER BY n DESC, "
            "Fingerprint LIMIT 5",
            {"since": since, "until": until, "traces": traces},
        )
        if not rows:
            continue
        cluster.linked_error_fingerprints = [r[0] for r in rows]
        bag: set[str] = set()
        for _, etype, message, _n in rows:
            bag |= {w.lower() for w in _split_words(f"{etype} {message}")}
        words[cluster.id] = bag
        cluster.evidence.append(
            EvidenceItem(
                id="ev-errors", kind="errors",
                summary=f"Errors raised in the failing steps: {', '.join(str(r[1]) for r in rows)}.",
                values={str(r[0]): int(r[3]) for r in rows},
                error_fingerprints=[r[0] for r in rows],
            )
        )  # fmt: skip
    return words


def _split_words(text: str) -> list[str]:
    import re

    # CamelCase exception types become words too: ShippingRateUnavailable -> shipping rate ...
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    return [w for w in re.findall(r"[A-Za-z]{3,}", spaced)]
