from __future__ import annotations

from datetime import datetime

import pytest

from errors import WarehouseError
from settings import Settings
from warehouse import Warehouse, open_warehouse
from warehouse.migrate import REQUIRED_COLUMNS, applied, discover, migrate, template_variables

COLLECTOR_TRACE_COLUMNS = {
    "Timestamp": "DateTime64(9)",
    "TraceId": "String",
    "SpanId": "String",
    "ParentSpanId": "String",
    "TraceState": "String",
    "SpanName": "LowCardinality(String)",
    "SpanKind": "LowCardinality(String)",
    "ServiceName": "LowCardinality(String)",
    "ResourceAttributes": "Map(LowCardinality(String), String)",
    "ScopeName": "String",
    "ScopeVersion": "String",
    "SpanAttributes": "Map(LowCardinality(String), String)",
    "Duration": "UInt64",
    "StatusCode": "LowCardinality(String)",
    "StatusMessage": "String",
    "Events.Timestamp": "Array(DateTime64(9))",
    "Events.Name": "Array(LowCardinality(String))",
    "Events.Attributes": "Array(Map(LowCardinality(String), String))",
    "Links.TraceId": "Array(String)",
    "Links.SpanId": "Array(String)",
    "Links.TraceState": "Array(String)",
    "Links.Attributes": "Array(Map(LowCardinality(String), String))",
}

COLLECTOR_LOG_COLUMNS = {
    "Timestamp": "DateTime64(9)",
    "TraceId": "String",
    "SpanId": "String",
    "TraceFlags": "UInt8",
    "SeverityText": "LowCardinality(String)",
    "SeverityNumber": "UInt8",
    "ServiceName": "LowCardinality(String)",
    "Body": "String",
    "ResourceSchemaUrl": "LowCardinality(String)",
    "ResourceAttributes": "Map(LowCardinality(String), String)",
    "ScopeSchemaUrl": "LowCardinality(String)",
    "ScopeName": "String",
    "ScopeVersion": "LowCardinality(String)",
    "ScopeAttributes": "Map(LowCardinality(String), String)",
    "LogAttributes": "Map(LowCardinality(String), String)",
    "EventName": "String",
}


def test_telemetry_tables_match_the_collector_exporter(warehouse: Warehouse) -> None:
    traces = warehouse.columns("otel_traces")
    logs = warehouse.columns("otel_logs")
    for name, type_ in COLLECTOR_TRACE_COLUMNS.items():
        assert traces.get(name) == type_, name
    for name, type_ in COLLECTOR_LOG_COLUMNS.items():
        assert logs.get(name) == type_, name


def test_tables_are_partitioned_by_day(warehouse: Warehouse) -> None:
    keys = dict(
        warehouse.rows(
            "SELECT name, partition_key FROM system.tables WHERE database = {db:String}",
            {"db": warehouse.database},
        )
    )
    assert keys["otel_traces"] == "toDate(Timestamp)"
    assert keys["otel_logs"] == "toDate(TimestampTime)"


def test_migrations_are_recorded_and_idempotent(warehouse: Warehouse) -> None:
    ids = [m.id for m in discover()]
    assert set(applied(warehouse)) == set(ids)
    assert migrate(warehouse) == []
    assert warehouse.scalar(
        f"SELECT count() FROM {warehouse.table('andon_schema_migrations')} FINAL"
    ) == len(ids)


def test_existing_collector_table_is_kept(fresh_settings: Settings) -> None:
    from warehouse import connect

    wh = connect(fresh_settings.warehouse)
    try:
        # A Collector created otel_traces first, with a row already in it.
        ddl = ", ".join(f"`{n}` {t}" for n, t in COLLECTOR_TRACE_COLUMNS.items() if "." not in n)
        wh.command(
            f"CREATE TABLE {wh.table('otel_traces')} ({ddl}, Events Nested(Timestamp DateTime64(9), "
            "Name LowCardinality(String), Attributes Map(LowCardinality(String), String)), "
            "Links Nested(TraceId String, SpanId String, TraceState String, "
            "Attributes Map(LowCardinality(String), String))) ENGINE = MergeTree ORDER BY Timestamp"
        )
        wh.insert(
            "otel_traces",
            [(datetime(2026, 1, 1), "a" * 32, "b" * 16, "GET /", "Server", "shop")],
            ["Timestamp", "TraceId", "SpanId", "SpanName", "SpanKind", "ServiceName"],
        )
        migrate(wh)
        assert wh.scalar(f"SELECT count() FROM {wh.table('otel_traces')}") == 1
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()


def test_incompatible_existing_table_is_refused(fresh_settings: Settings) -> None:
    from warehouse import connect

    wh = connect(fresh_settings.warehouse)
    try:
        wh.command(
            f"CREATE TABLE {wh.table('otel_traces')} (Timestamp DateTime) ENGINE = MergeTree ORDER BY Timestamp"
        )
        with pytest.raises(WarehouseError, match="lacks columns TraceId"):
            migrate(wh)
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()


def test_ttl_and_cluster_variants_render(fresh_settings: Settings) -> None:
    cfg = fresh_settings.warehouse.model_copy(update={"ttl_days": 7, "cluster": "prod"})

    class _Fake:
        database = "andon"
        settings = cfg

    variables = template_variables(_Fake())  # type: ignore[arg-type]
    assert variables["on_cluster"] == "ON CLUSTER `prod`"
    assert variables["replicated"] == "Replicated"
    traces_sql = next(m for m in discover() if m.id.endswith("otel_traces")).statements(variables)[
        0
    ]
    assert "ReplicatedMergeTree()" in traces_sql
    assert "TTL toDateTime(Timestamp) + toIntervalDay(7)" in traces_sql
    assert "ON CLUSTER `prod`" in traces_sql


def test_ttl_applies_on_embedded(fresh_settings: Settings) -> None:
    cfg = fresh_settings.warehouse.model_copy(update={"ttl_days": 30})
    wh = open_warehouse(cfg)
    try:
        ddl = wh.scalar(f"SHOW CREATE TABLE {wh.table('otel_traces')}")
        assert "TTL toDateTime(Timestamp) + toIntervalDay(30)" in ddl
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()


def test_required_columns_cover_both_tables() -> None:
    assert set(REQUIRED_COLUMNS) == {"otel_traces", "otel_logs"}
