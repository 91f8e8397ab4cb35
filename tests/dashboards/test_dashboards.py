"""Every Grafana panel's SQL, macros expanded as the ClickHouse plugin does, against a warehouse
filled by the simulator and one batch cycle: each query runs and returns rows of the shape its
panel type needs."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler import shared_runner
from tests.console.demo_data import DemoData, shared_demo
from tests.dashboards.grafana_sql import expand, queries
from ticketing import service as tickets

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("dashboards_build", DASHBOARDS / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["dashboards_build"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(engine_dir: Path) -> DemoData:
    """The simulated warehouse plus the review and scheduler activity the dashboards chart."""
    data = shared_demo(engine_dir)
    wh = data.warehouse
    proposed = [t for t in tickets.list_tickets(wh) if t.status in ("proposed", "edited")]
    if len(proposed) >= 2 and not tickets.list_tickets(wh, status="exported"):
        tickets.approve(wh, proposed[0].id, actor="maria", now=data.until)
        tickets.export(wh, data.settings.ticketing, proposed[0].id, actor="maria", now=data.until)
        tickets.reject(wh, proposed[1].id, actor="maria", reason="known issue", now=data.until)
    runner = shared_runner(data.settings, wh)
    if not runner.store.recent(job="housekeeping", limit=1):
        runner.run_now("housekeeping", since=data.since, until=data.until, actor="test")
    return data


def _dashboards() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted(DASHBOARDS.glob("*.json"))]


def test_dashboards_are_generated_from_build_py() -> None:
    builder = _load_builder()
    assert builder.main(["--check"]) == 0, "run: python dashboards/build.py"
    names = {name for name, _ in _dashboards()}
    assert names == set(builder.DASHBOARDS)


def test_dashboards_use_the_clickhouse_plugin_and_provisioning_points_at_them() -> None:
    for name, board in _dashboards():
        assert board["uid"].startswith("andon-"), name
        for panel in board["panels"]:
            assert panel["datasource"]["type"] == "grafana-clickhouse-datasource"
            assert panel["description"], f"{name}: panel {panel['title']!r} has no description"
            for target in panel["targets"]:
                assert target["editorType"] == "sql" and target["format"] in (0, 1)
    ds = (DASHBOARDS / "provisioning" / "datasources" / "andon.yaml").read_text()
    assert "type: grafana-clickhouse-datasource" in ds and "uid: andon-clickhouse" in ds
    provider = (DASHBOARDS / "provisioning" / "dashboards" / "andon.yaml").read_text()
    assert "type: file" in provider


def _base(t: str) -> str:
    """'LowCardinality(Nullable(String))' -> 'String'."""
    while t.startswith(("Nullable(", "LowCardinality(")):
        t = t[t.index("(") + 1 : -1]
    return t


def _is_number(t: str) -> bool:
    return _base(t).startswith(("UInt", "Int", "Float", "Decimal"))


def _is_text(t: str) -> bool:
    return _base(t) in ("String", "FixedString") or _base(t).startswith("Enum")


def _is_time(t: str) -> bool:
    return _base(t).startswith(("DateTime", "Date"))


def _check_shape(
    what: str, kind: str, types: dict[str, str], rows: list[tuple[Any, ...]], need_rows: bool
) -> None:
    names = list(types)
    assert rows or not need_rows, f"{what}: no rows"
    if kind == "stat":
        assert len(rows) == 1, f"{what}: a stat needs one row, got {len(rows)}"
        assert all(_is_number(t) for t in types.values()), f"{what}: non-numeric {types}"
    elif kind == "timeseries":
        assert "time" in types and _is_time(types["time"]), f"{what}: {types}"
        values = [n for n in names if n != "time"]
        assert any(_is_number(types[n]) for n in values), f"{what}: no numeric column"
        assert all(_is_number(types[n]) or _is_text(types[n]) for n in values), f"{what}: {types}"
    elif kind == "barchart":
        assert _is_text(types[names[0]]), f"{what}: the first column must be a label"
        assert all(_is_number(types[n]) for n in names[1:]), f"{what}: {types}"
    elif kind == "annotation":
        assert _is_time(types["time"]) and _is_text(types["text"]), f"{what}: {types}"
        if "timeEnd" in types:
            assert _is_time(types["timeEnd"]), f"{what}: timeEnd {types}"
    elif kind == "variable":
        assert len(names) == 1 and _is_text(types[names[0]]), f"{what}: {types}"
    else:
        assert kind == "table" and len(names) >= 2, f"{what}: {kind} {names}"


@pytest.mark.parametrize("name", [n for n, _ in _dashboards()])
def test_every_panel_query_returns_rows_of_its_shape(name: str, demo: DemoData) -> None:
    board = dict(_dashboards())[name]
    wh = demo.warehouse
    # One real service too: a client app for the friction board (user actions are its root
    # spans), a backend for the others (server spans).
    having = "countIf(ParentSpanId = '')" if "friction" in name else "countIf(SpanKind = 'Server')"
    service = str(
        wh.scalar(
            f"SELECT ServiceName FROM {wh.table('otel_traces')} GROUP BY ServiceName "
            f"HAVING {having} > 0 ORDER BY count() DESC LIMIT 1"
        )
    )
    # The simulated window, stretched to now: scheduled job runs are recorded at wall time.
    end = max(demo.until, datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1))
    ran = 0
    for value in ("__all", service):
        for what, kind, sql in queries(board):
            text = expand(sql, demo.since, end, 600, {"service": value, "datasource": ""})
            assert "$" not in text, f"{what}: unexpanded macro in {text}"
            try:
                # DESCRIBE gives the ClickHouse types Grafana's plugin maps to field types.
                described = wh.rows(f"DESCRIBE ({text})")
                rows = wh.rows(text)
            except Exception as exc:  # name the panel, then fail
                pytest.fail(f"{name} {what} failed: {exc}\n{text}")
            types = {str(r[0]): str(r[1]) for r in described}
            assert len(types) == len(described), f"{what}: duplicate column names"
            # With every service selected (the default) each panel must show data; for one
            # service some panels may rightly be empty (e.g. no error logs), but must still run.
            _check_shape(f"{name} {what} (service={value})", kind, types, rows, value == "__all")
            ran += 1
    assert ran >= 2 * len(board["panels"])


def test_macro_expansion_matches_the_plugin() -> None:
    start, end = datetime(2026, 11, 21, 10), datetime(2026, 11, 21, 11)
    sql = expand(
        "SELECT $__timeInterval(T) AS time WHERE $__timeFilter(T) AND x < $__toTime "
        "AND y = $__interval_s AND '${service}' = '$service'",
        start, end, 60, {"service": "api"},
    )  # fmt: skip
    frm = int(start.replace(tzinfo=UTC).timestamp())
    assert sql == (
        "SELECT toStartOfInterval(toDateTime(T), INTERVAL 60 second) AS time WHERE "
        f"T >= toDateTime({frm}) AND T <= toDateTime({frm + 3600}) AND x < "
        f"toDateTime({frm + 3600}) AND y = 60 AND 'api' = 'api'"
    )
