"""Bounded, read-only SQL for the agent: one SELECT over allow-listed tables, with a time limit,
a row limit and ClickHouse's ``readonly`` setting.

`validate` is pure and is the first line of defence: a single ``SELECT``/``WITH`` statement, no
comments, no ``SETTINGS`` of its own, no ``system.`` tables, no table functions that reach files,
URLs or other databases, and every ``FROM``/``JOIN`` target an allow-listed table (or a CTE the
query defines). `run` then executes it wrapped as ``SELECT * FROM (<query>) LIMIT n SETTINGS
readonly=2, max_execution_time=t, ...`` so the engine enforces the same limits.
"""

from __future__ import annotations

import re
from typing import Any

from errors import InputError, WarehouseError
from warehouse import Warehouse

_FORBIDDEN_FUNCTIONS = re.compile(
    r"(?i)\b(url|file|remote|remotesecure|s3|s3cluster|hdfs|mysql|postgresql|jdbc|odbc|executable|"
    r"input|cluster|clusterallreplicas|azureblobstorage|gcs|iceberg\w*|deltalake|hudi|mongodb|redis|"
    r"sqlite|dictionary|merge|view|generaterandom)\s*\("
)
_TABLE_REF = re.compile(r"(?i)\b(?:FROM|JOIN)\s+([`\"\w.]+)(\s*\()?")
_CTE = re.compile(r"(?i)(?:\bWITH\b|,)\s*([`\"]?\w+[`\"]?)\s+AS\s*\(")


def validate(query: str, allowed_tables: list[str], database: str) -> str:
    """The query, stripped, if it is a safe single SELECT over allowed tables; else `InputError`."""
    sql = query.strip().rstrip(";").strip()
    if not sql:
        raise InputError("empty query", field="query")
    if ";" in sql:
        raise InputError("one statement only (no ';')", field="query")
    if "--" in sql or "/*" in sql or "#" in sql:
        raise InputError("comments are not allowed", field="query")
    if not re.match(r"(?is)^\s*(SELECT|WITH)\b", sql):
        raise InputError("only SELECT (or WITH ... SELECT) queries are allowed", field="query")
    if re.search(r"(?i)\bSETTINGS\b|\bINTO\s+OUTFILE\b|\bFORMAT\b", sql):
        raise InputError("SETTINGS, INTO OUTFILE and FORMAT are not allowed", field="query")
    if re.search(r"(?i)\bsystem\s*\.", sql) or re.search(r"(?i)\binformation_schema\b", sql):
        raise InputError("system tables are not allowed", field="query")
    if match := _FORBIDDEN_FUNCTIONS.search(sql):
        raise InputError(f"table function {match.group(1)}() is not allowed", field="query")
    ctes = {m.group(1).strip('`"').lower() for m in _CTE.finditer(sql)}
    allowed = {t.lower() for t in allowed_tables}
    for match in _TABLE_REF.finditer(sql):
        name = match.group(1).strip('`"')
        if match.group(2):
            raise InputError(f"table function {name}() is not allowed", field="query")
        parts = [p.strip('`"') for p in name.split(".")]
        if len(parts) == 2 and parts[0].lower() != database.lower():
            raise InputError(f"only andon's database {database!r} may be read", field="query")
        table = parts[-1].lower()
        if table not in allowed and table not in ctes:
            raise InputError(
                f"table {table!r} is not allowed (allowed: {', '.join(sorted(allowed))})",
                field="query",
            )
    return sql


def run(
    wh: Warehouse,
    query: str,
    *,
    allowed_tables: list[str],
    max_rows: int,
    timeout_seconds: int,
) -> dict[str, Any]:
    """Validate and run ``query``; returns ``{"columns", "rows", "truncated"}`` (JSON-ready)."""
    sql = validate(query, allowed_tables, wh.database)
    wrapped = (
        f"SELECT * FROM ({sql}) LIMIT {int(max_rows) + 1} "
        f"SETTINGS readonly=2, max_execution_time={int(timeout_seconds)}, "
        f"max_result_rows={int(max_rows) + 1}, result_overflow_mode='break', "
        f"max_rows_to_read=50000000, read_overflow_mode='throw'"
    )
    try:
        result = wh.arrow(wrapped)
    except WarehouseError as exc:
        raise InputError(f"query failed: {exc.message}", field="query") from exc
    rows = result.to_pylist()
    return {
        "columns": result.column_names,
        "rows": rows[:max_rows],
        "truncated": len(rows) > max_rows,
    }
