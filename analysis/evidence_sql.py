"""SQL that reproduces a cluster's numbers straight from the warehouse.

Every friction cluster carries a query that recomputes its ``value``, ``baseline`` and
``affected_sessions`` from ``otel_traces`` (same deduplication, same session keys, same
definitions as the Polars analysis). `render` inlines the parameters as literals so the text can
be pasted into any ClickHouse client; the engine runs the parameterised form (previous window,
checks).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from analysis.sessions import roots_sql
from warehouse import Warehouse

_PARAM = re.compile(r"\{(\w+):([^}]+)\}")


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"toDateTime64('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}', 9)"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def render(sql: str, params: dict[str, Any]) -> str:
    """The query with its ``{name:Type}`` parameters replaced by SQL literals."""
    return _PARAM.sub(lambda m: _literal(params[m.group(1)]), sql).strip()


def _session_cte(segment_keys: list[str]) -> str:
    attrs = "".join(
        f",\n        argMinIf(if(mapContains(res, {{sk{i}:String}}), res[{{sk{i}:String}}], "
        f"attrs[{{sk{i}:String}}]), ts, if(mapContains(res, {{sk{i}:String}}), "
        f"res[{{sk{i}:String}}], attrs[{{sk{i}:String}}]) != '') AS seg{i}"
        for i in range(len(segment_keys))
    )
    return f""",
sessions AS (
    SELECT
        session_key,
        arraySort((x, o) -> o, groupArray(step), groupArray((ts, span_id))) AS st,
        arraySort((x, o) -> o, groupArray(is_error), groupArray((ts, span_id))) AS er,
        arraySort((x, o) -> o, groupArray(duration_ms), groupArray((ts, span_id))) AS du{attrs}
    FROM keyed
    GROUP BY session_key
),
per_session AS (
    SELECT
        *,
        indexOf(st, {{step:String}}) AS first_pos,
        arrayExists((s, k) -> s = {{next_step:String}} AND k > first_pos, st,
                    arrayEnumerate(st)) AS reached_next,
        arrayExists((s, e) -> s = {{step:String}} AND e, st, er) AS had_error,
        arrayFirstIndex((s, e) -> s = {{step:String}} AND e, st, er) AS first_error_pos,
        arrayExists((s, e, k) -> s = {{step:String}} AND NOT e AND k > first_error_pos, st, er,
                    arrayEnumerate(st)) AS recovered,
        arrayExists((s, k) -> s = {{next_step:String}} AND k > first_error_pos, st,
                    arrayEnumerate(st)) AS next_after_error,
        had_error AND NOT next_after_error AS abandoned_after_error,
        countEqual(st, {{step:String}}) AS attempts,
        arrayExists((s, e) -> s = {{step:String}} AND NOT e, st, er) AS succeeded,
        {_segment_condition(len(segment_keys))} AS in_segment
    FROM sessions
    WHERE first_pos > 0
        -- on the flow's path: reached a step that leads here in the flow before this one
        AND (empty({{came_from:Array(String)}})
             OR arrayExists((s, k) -> has({{came_from:Array(String)}}, s) AND k < first_pos, st,
                            arrayEnumerate(st)))
        -- sessions that went on to another flow's next step did not drop off: left out
        AND (reached_next OR NOT arrayExists((s, k) -> has({{branches:Array(String)}}, s)
                                             AND k > first_pos, st, arrayEnumerate(st)))
)"""


def _segment_condition(n: int) -> str:
    if n == 0:
        return "1"
    return " AND ".join(f"seg{i} = {{sv{i}:String}}" for i in range(n))


_SELECTS = {
    "dropoff": """
SELECT
    avgIf(NOT reached_next, in_segment) AS value,
    avgIf(NOT reached_next, NOT in_segment) AS baseline,
    countIf(in_segment) AS affected_sessions,
    countIf(in_segment AND NOT reached_next) AS dropped_sessions,
    countIf(NOT in_segment) AS baseline_sessions
FROM per_session""",
    "retry": """
SELECT
    avgIf(attempts, in_segment AND succeeded) AS value,
    avgIf(attempts, NOT in_segment AND succeeded) AS baseline,
    countIf(in_segment) AS affected_sessions,
    countIf(in_segment AND attempts > 1) AS sessions_with_retries,
    countIf(NOT in_segment) AS baseline_sessions
FROM per_session""",
    "error_abandon": """
SELECT
    avgIf(abandoned_after_error, in_segment AND had_error) AS value,
    avgIf(NOT reached_next, NOT had_error) AS baseline,
    countIf(in_segment AND had_error) AS affected_sessions,
    countIf(in_segment AND abandoned_after_error) AS abandoned_sessions,
    countIf(NOT had_error) AS baseline_sessions
FROM per_session""",
    "slow_step": """
SELECT
    quantileExactIf(0.75)(d, in_segment) AS value,
    quantileExactIf(0.75)(d, NOT in_segment) AS baseline,
    uniqExactIf(session_key, in_segment) AS affected_sessions,
    countIf(in_segment) AS segment_attempts,
    countIf(NOT in_segment) AS baseline_attempts
FROM per_session
ARRAY JOIN arrayFilter((x, s) -> s = {step:String}, du, st) AS d""",
}


def cluster_sql(
    wh: Warehouse,
    kind: str,
    step: str,
    next_step: str,
    segment: dict[str, str],
    branches: list[str] | None = None,
    came_from: list[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The parameterised query of a friction cluster, and its parameters (window excluded:
    add ``since``, ``until`` and ``gap_s``).

    ``came_from`` and ``branches`` select the sessions of the flow at the step, as
    `analysis.steps.transition_frame` does."""
    keys = sorted(segment)
    sql = roots_sql(wh) + _session_cte(keys) + _SELECTS[kind]
    params: dict[str, Any] = {
        "step": step,
        "next_step": next_step,
        "branches": branches or [],
        "came_from": came_from or [],
    }
    for i, key in enumerate(keys):
        params[f"sk{i}"] = key
        params[f"sv{i}"] = segment[key]
    return sql, params


def run_cluster_sql(
    wh: Warehouse, sql: str, params: dict[str, Any], since: datetime, until: datetime,
    gap_minutes: float,
) -> dict[str, float]:  # fmt: skip
    """Run a cluster's query over a window; column name -> number (NaN when empty)."""
    full = {**params, "since": since, "until": until, "gap_s": gap_minutes * 60}
    result = wh.arrow(sql, full)
    row = result.to_pylist()[0] if result.num_rows else {}
    return {k: (float(v) if v is not None else float("nan")) for k, v in row.items()}
