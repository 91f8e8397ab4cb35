"""Per-session step sequences, pre-aggregated in ClickHouse SQL and fetched as one frame.

A *step* is a root span (``ParentSpanId = ''``), named by ``http.route`` when present, else by
its span name. A *session* is ``session.id``; spans without one fall back to ``enduser.id`` split
by an inactivity gap. Duplicate spans (an exporter retrying) are removed with
``LIMIT 1 BY TraceId, SpanId`` before anything is counted, so they never change a figure.

The SQL built here is also what evidence items quote, so a reader can reproduce every number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from warehouse import Warehouse

# The columns of the session frame, besides one column per segment attribute.
SESSION_COLUMNS = (
    "session_id", "user_id", "start", "steps", "ts", "is_error", "http_status", "duration_ms",
    "trace_ids",
)  # fmt: skip


@dataclass(frozen=True)
class SegmentAttribute:
    """A low-cardinality attribute found on root spans, usable as a segment."""

    key: str
    values: int
    coverage: float  # share of sessions where it is set


def roots_sql(wh: Warehouse) -> str:
    """Root spans of the window, deduplicated, with their session key.

    Parameters: ``since``, ``until`` (DateTime64(9)), ``gap_s`` (Float64).
    """
    traces = wh.table("otel_traces")
    return f"""
WITH roots AS (
    SELECT
        TraceId AS trace_id,
        SpanId AS span_id,
        Timestamp AS ts,
        SpanAttributes['session.id'] AS sid,
        SpanAttributes['enduser.id'] AS uid,
        if(SpanAttributes['http.route'] != '', SpanAttributes['http.route'], SpanName) AS step,
        toUInt16OrZero(SpanAttributes['http.response.status_code']) AS http_status,
        (StatusCode = 'Error' OR http_status >= 400) AS is_error,
        Duration / 1e6 AS duration_ms,
        ResourceAttributes AS res,
        SpanAttributes AS attrs
    FROM {traces}
    WHERE ParentSpanId = '' AND Timestamp >= {{since:DateTime64(9)}}
        AND Timestamp < {{until:DateTime64(9)}}
        AND (SpanAttributes['session.id'] != '' OR SpanAttributes['enduser.id'] != '')
    LIMIT 1 BY TraceId, SpanId
),
keyed AS (
    SELECT *, sid AS session_key FROM roots WHERE sid != ''
    UNION ALL
    SELECT * EXCEPT (gap_break), concat('u:', uid, ':', toString(
        sum(gap_break) OVER (PARTITION BY uid ORDER BY ts, span_id ROWS UNBOUNDED PRECEDING)
    )) AS session_key
    FROM (
        SELECT *, (dateDiff('millisecond',
            lagInFrame(ts, 1, ts) OVER (PARTITION BY uid ORDER BY ts, span_id
                                        ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), ts)
            > {{gap_s:Float64}} * 1000) AS gap_break
        FROM roots WHERE sid = ''
    )
)"""


def _attr(key_param: str) -> str:
    """A root span's attribute: resource attributes first, then span attributes."""
    return (
        f"if(mapContains(res, {{{key_param}:String}}), res[{{{key_param}:String}}], "
        f"attrs[{{{key_param}:String}}])"
    )


def discover_attributes_sql(wh: Warehouse) -> str:
    """Attribute keys on root spans, their cardinality and whether they describe a session.

    Works on a sample of whole sessions (``cityHash64(session or user) % {modulus} = 0``): the
    keys, their number of values and whether they stay constant within a session show as well
    in 100,000 root spans as in ten million. Parameters: ``since``, ``until``, ``modulus``.
    """
    traces = wh.table("otel_traces")
    return f"""
SELECT key, uniqExactArray(vals) AS n_values, avg(length(vals) > 1) AS varying,
       count() AS sessions, avg(spans_with / spans_total) AS span_coverage
FROM (
    SELECT session_key, kv.1 AS key, groupUniqArray(kv.2) AS vals, count() AS spans_with,
           any(n_spans) AS spans_total
    FROM (
        SELECT
            if(SpanAttributes['session.id'] != '', SpanAttributes['session.id'],
               SpanAttributes['enduser.id']) AS session_key,
            ResourceAttributes AS res, SpanAttributes AS attrs,
            count() OVER (PARTITION BY session_key) AS n_spans
        FROM {traces}
        WHERE ParentSpanId = '' AND Timestamp >= {{since:DateTime64(9)}}
            AND Timestamp < {{until:DateTime64(9)}}
            AND (SpanAttributes['session.id'] != '' OR SpanAttributes['enduser.id'] != '')
            AND cityHash64(if(SpanAttributes['session.id'] != '', SpanAttributes['session.id'],
                              SpanAttributes['enduser.id'])) % {{modulus:UInt64}} = 0
    )
    ARRAY JOIN arrayConcat(
        arrayZip(mapKeys(res), mapValues(res)), arrayZip(mapKeys(attrs), mapValues(attrs))
    ) AS kv
    WHERE kv.2 != ''
    GROUP BY session_key, key
)
GROUP BY key
ORDER BY key
"""


def count_roots(wh: Warehouse, since: datetime, until: datetime) -> int:
    """Root spans in the window (duplicates included: only used to size samples)."""
    return int(
        wh.scalar(
            f"SELECT count() FROM {wh.table('otel_traces')} WHERE ParentSpanId = '' "
            "AND Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}",
            {"since": since, "until": until},
        )
        or 0
    )


def discover_attributes(
    wh: Warehouse,
    since: datetime,
    until: datetime,
    *,
    max_values: int,
    ignore: list[str],
    extra: list[str],
    sample: int = 100_000,
) -> list[SegmentAttribute]:
    """Low-cardinality attributes that describe the whole session: the segment candidates.

    A candidate has 2..``max_values`` values, keeps one value within a session, and is set on
    (nearly) every step of the sessions that have it; that rules out outcomes such as
    ``error.type``, which only the failing steps carry.
    """
    modulus = max(1, count_roots(wh, since, until) // sample)
    rows = wh.rows(
        discover_attributes_sql(wh), {"since": since, "until": until, "modulus": modulus}
    )
    total = max((int(r[3]) for r in rows), default=0)
    found: list[SegmentAttribute] = []
    for key, n_values, varying, sessions, span_coverage in rows:
        wanted = key in extra
        if key in ignore and not wanted:
            continue
        usable = 2 <= n_values <= max_values and varying <= 0.02 and span_coverage >= 0.9
        if wanted or usable:
            found.append(SegmentAttribute(key, int(n_values), int(sessions) / max(total, 1)))
    return found


def sessions_sql(wh: Warehouse, attributes: list[SegmentAttribute]) -> str:
    """One row per session: ordered step arrays and the segment attributes (``a0``, ``a1`` ...).

    Parameters as `roots_sql`, plus ``k0``, ``k1`` ... (String): the attribute keys.
    """
    segment_cols = "".join(
        f",\n    argMinIf({_attr(f'k{i}')}, ts, {_attr(f'k{i}')} != '') AS a{i}"
        for i in range(len(attributes))
    )
    order = "(ts, span_id)"
    return (
        roots_sql(wh)
        + f"""
SELECT
    session_key AS session_id,
    anyIf(uid, uid != '') AS user_id,
    min(ts) AS start,
    arraySort((x, o) -> o, groupArray(step), groupArray({order})) AS a_steps,
    arraySort((x, o) -> o, groupArray(ts), groupArray({order})) AS a_ts,
    arraySort((x, o) -> o, groupArray(is_error), groupArray({order})) AS a_is_error,
    arraySort((x, o) -> o, groupArray(http_status), groupArray({order})) AS a_http_status,
    arraySort((x, o) -> o, groupArray(duration_ms), groupArray({order})) AS a_duration_ms,
    arraySort((x, o) -> o, groupArray(trace_id), groupArray({order})) AS a_trace_ids{segment_cols}
FROM keyed
GROUP BY session_key
ORDER BY session_key
"""
    )


def session_parameters(
    since: datetime, until: datetime, gap_minutes: float, attributes: list[SegmentAttribute]
) -> dict[str, object]:
    """The bound parameters of `sessions_sql`."""
    params: dict[str, object] = {"since": since, "until": until, "gap_s": gap_minutes * 60}
    params.update({f"k{i}": a.key for i, a in enumerate(attributes)})
    return params


def fetch_sessions(
    wh: Warehouse,
    since: datetime,
    until: datetime,
    attributes: list[SegmentAttribute],
    *,
    gap_minutes: float,
) -> pl.DataFrame:
    """The session frame: columns `SESSION_COLUMNS` plus one per attribute, named by its key."""
    frame = wh.frame(
        sessions_sql(wh, attributes), session_parameters(since, until, gap_minutes, attributes)
    )
    if frame.height == 0:
        return empty_sessions([a.key for a in attributes])
    renames = {f"a{i}": a.key for i, a in enumerate(attributes)}
    renames.update({f"a_{c}": c for c in SESSION_COLUMNS[3:]})
    frame = frame.rename(renames)
    return frame.with_columns(
        pl.col("start").dt.replace_time_zone(None),
        pl.col("ts").list.eval(pl.element().dt.replace_time_zone(None)),
        pl.col("is_error").list.eval(pl.element().cast(pl.Boolean)),
    )


def empty_sessions(attribute_keys: list[str]) -> pl.DataFrame:
    """A session frame with no rows (and the right schema)."""
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "session_id": pl.String,
        "user_id": pl.String,
        "start": pl.Datetime("ns"),
        "steps": pl.List(pl.String),
        "ts": pl.List(pl.Datetime("ns")),
        "is_error": pl.List(pl.Boolean),
        "http_status": pl.List(pl.UInt16),
        "duration_ms": pl.List(pl.Float64),
        "trace_ids": pl.List(pl.String),
    }
    schema.update({k: pl.String for k in attribute_keys})
    return pl.DataFrame(schema=schema)
