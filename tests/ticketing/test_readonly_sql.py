"""The agent's bounded read-only SQL: only one SELECT over allow-listed tables, limited rows."""

from __future__ import annotations

import pytest

from errors import InputError
from ticketing import readonly_sql
from ticketing.config import DEFAULT_SQL_TABLES

OK = [
    "SELECT count() FROM otel_traces",
    "select ServiceName, count() from otel_traces group by ServiceName;",
    "WITH s AS (SELECT TraceId FROM otel_traces) SELECT count() FROM s",
    "SELECT * FROM andon_errors e JOIN andon_support_tickets t ON e.SessionId = t.SessionId",
    "SELECT count() FROM db1.otel_traces",
    "SELECT count() FROM (SELECT 1 FROM otel_logs)",
]
BAD = [
    ("INSERT INTO otel_traces SELECT * FROM otel_traces", "only SELECT"),
    ("SELECT 1; DROP TABLE otel_traces", "one statement"),
    ("SELECT * FROM system.users", "system tables"),
    ("SELECT * FROM url('http://evil.example/x', CSV)", "url()"),
    ("SELECT * FROM file('/etc/passwd')", "file()"),
    ("SELECT * FROM andon_ticket_events", "not allowed"),
    ("SELECT * FROM other_db.otel_traces", "database"),
    ("SELECT 1 SETTINGS readonly=0", "SETTINGS"),
    ("SELECT 1 -- comment", "comments"),
    ("SELECT * FROM remote('host', db, t)", "remote()"),
    ("", "empty"),
]


@pytest.mark.parametrize("query", OK)
def test_allowed_queries(query: str) -> None:
    assert readonly_sql.validate(query, DEFAULT_SQL_TABLES, "db1")


@pytest.mark.parametrize(("query", "why"), BAD)
def test_refused_queries(query: str, why: str) -> None:
    with pytest.raises(InputError, match=why.replace("(", r"\(").replace(")", r"\)")):
        readonly_sql.validate(query, DEFAULT_SQL_TABLES, "db1")


def test_rows_are_limited_and_engine_is_readonly(warehouse) -> None:
    wh = warehouse
    wh.insert(
        "andon_support_tickets",
        [
            ("csv", f"T-{i}", f"h{i}", "2026-11-21 00:00:00", "2026-11-21 00:00:00")
            for i in range(12)
        ],
        ["Source", "TicketId", "ContentHash", "CreatedAt", "UpdatedAt"],
    )
    out = readonly_sql.run(
        wh, "SELECT TicketId FROM andon_support_tickets ORDER BY TicketId",
        allowed_tables=DEFAULT_SQL_TABLES, max_rows=5, timeout_seconds=5,
    )  # fmt: skip
    assert out["columns"] == ["TicketId"] and len(out["rows"]) == 5 and out["truncated"] is True
    with pytest.raises(InputError, match="query failed"):
        readonly_sql.run(
            wh, "SELECT no_such_column FROM otel_traces",
            allowed_tables=DEFAULT_SQL_TABLES, max_rows=5, timeout_seconds=5,
        )  # fmt: skip
    # the same client keeps working for writes afterwards (readonly was per query)
    wh.insert("andon_support_tickets", [("csv", "T-x", "hx", "2026-11-21 00:00:00", "2026-11-21 00:00:00")],
              ["Source", "TicketId", "ContentHash", "CreatedAt", "UpdatedAt"])  # fmt: skip
