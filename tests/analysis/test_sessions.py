"""Session pre-aggregation in SQL: session keys, the enduser.id fallback, duplicate spans."""

from __future__ import annotations

from datetime import datetime, timedelta

from analysis.sessions import discover_attributes, fetch_sessions
from warehouse import Warehouse

T0 = datetime(2026, 11, 20, 10, 0, 0)
COLUMNS = ["Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind",
           "ServiceName", "ResourceAttributes", "SpanAttributes", "Duration", "StatusCode"]  # fmt: skip


def _span(n: int, at: datetime, route: str, attrs: dict[str, str], *, error: bool = False,
          parent: str = "", platform: str = "web") -> tuple[object, ...]:  # fmt: skip
    trace = f"{n:032x}"
    return (
        at, trace, f"{n:016x}", parent, f"GET {route}", "Client", f"shop-{platform}",
        {"service.name": f"shop-{platform}", "os.name": "Android" if platform == "android" else "Linux"},
        {"http.route": route, "app.platform": platform, **attrs}, 120_000_000,
        "Error" if error else "Unset",
    )  # fmt: skip


def test_sessions_keys_fallback_and_duplicates(warehouse: Warehouse) -> None:
    rows = [
        # a session with session.id: three steps, the second fails once then works
        _span(1, T0, "/", {"session.id": "s1", "enduser.id": "u1"}),
        _span(
            2,
            T0 + timedelta(seconds=5),
            "/cart",
            {"session.id": "s1", "enduser.id": "u1"},
            error=True,
        ),
        _span(3, T0 + timedelta(seconds=9), "/cart", {"session.id": "s1", "enduser.id": "u1"}),
        _span(4, T0 + timedelta(seconds=20), "/pay", {"session.id": "s1", "enduser.id": "u1"}),
        # no session.id: enduser.id split by a 30-minute gap into two sessions
        _span(5, T0, "/", {"enduser.id": "u2"}, platform="android"),
        _span(6, T0 + timedelta(minutes=10), "/cart", {"enduser.id": "u2"}, platform="android"),
        _span(7, T0 + timedelta(hours=2), "/", {"enduser.id": "u2"}, platform="android"),
        # a child span never counts as a step
        _span(8, T0 + timedelta(seconds=1), "/api/x", {"session.id": "s1"}, parent="0" * 16),
        # neither id: not attributable to a session
        _span(9, T0, "/", {}),
    ]
    warehouse.insert("otel_traces", rows, COLUMNS)
    warehouse.insert("otel_traces", rows[:4], COLUMNS)  # an exporter retried a batch
    since, until = T0 - timedelta(hours=1), T0 + timedelta(hours=3)
    attrs = discover_attributes(warehouse, since, until, max_values=10,
                                ignore=["session.id", "enduser.id", "http.route"], extra=[])  # fmt: skip
    assert [a.key for a in attrs] == ["app.platform", "os.name", "service.name"]
    frame = fetch_sessions(warehouse, since, until, attrs, gap_minutes=30).sort(
        "start", "session_id"
    )
    by_id = {row["session_id"]: row for row in frame.iter_rows(named=True)}
    assert set(by_id) == {"s1", "u:u2:0", "u:u2:1"}
    s1 = by_id["s1"]
    assert s1["steps"] == ["/", "/cart", "/cart", "/pay"]  # duplicates removed, children ignored
    assert s1["is_error"] == [False, True, False, False]
    assert s1["duration_ms"] == [120.0] * 4
    assert s1["app.platform"] == "web" and s1["user_id"] == "u1"
    assert by_id["u:u2:0"]["steps"] == ["/", "/cart"]
    assert by_id["u:u2:1"]["steps"] == ["/"]
    assert by_id["u:u2:0"]["os.name"] == "Android"
