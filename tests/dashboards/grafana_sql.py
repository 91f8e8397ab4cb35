"""Expand the ClickHouse Grafana plugin's macros and dashboard variables, as Grafana would.

Mirrors grafana-clickhouse-datasource v4 (pkg/macros): ``$__timeFilter(c)`` becomes
``c >= toDateTime(<from>) AND c <= toDateTime(<to>)`` and so on, so the test runs exactly the SQL
the plugin would send.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_MACRO = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def _seconds(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _millis(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def expand(
    sql: str, start: datetime, end: datetime, interval_s: int, variables: dict[str, str]
) -> str:
    """The SQL Grafana sends for a time range [start, end] (naive UTC) and variable values."""

    def macro(match: re.Match[str]) -> str:
        name, raw_args = match.group(1), match.group(2)
        args = [a.strip().strip("'\"") for a in raw_args.split(",")] if raw_args else []
        frm, to = f"toDateTime({_seconds(start)})", f"toDateTime({_seconds(end)})"
        frm_ms = f"fromUnixTimestamp64Milli({_millis(start)})"
        to_ms = f"fromUnixTimestamp64Milli({_millis(end)})"
        match name:
            case "timeFilter":
                return f"{args[0]} >= {frm} AND {args[0]} <= {to}"
            case "timeFilter_ms":
                return f"{args[0]} >= {frm_ms} AND {args[0]} <= {to_ms}"
            case "dateFilter":
                return f"{args[0]} >= toDate('{start:%Y-%m-%d}') AND {args[0]} <= toDate('{end:%Y-%m-%d}')"
            case "fromTime":
                return frm
            case "toTime":
                return to
            case "fromTime_ms":
                return frm_ms
            case "toTime_ms":
                return to_ms
            case "timeInterval":
                return f"toStartOfInterval(toDateTime({args[0]}), INTERVAL {max(interval_s, 1)} second)"
            case "interval_s":
                return str(max(interval_s, 1))
        raise AssertionError(f"macro $__{name} is not one the ClickHouse plugin knows")

    expanded = _MACRO.sub(macro, sql)

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise AssertionError(f"dashboard variable ${name} has no value in the test")
        return variables[name]

    return _VARIABLE.sub(variable, expanded)


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(what, panel type, raw SQL) for every panel target, annotation and variable query."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", panel["type"], target["rawSql"]
    for annotation in dashboard["annotations"]["list"]:
        if "target" in annotation:
            yield f"annotation {annotation['name']!r}", "annotation", annotation["target"]["rawSql"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable ${variable['name']}", "variable", variable["query"]
