"""Versioned, idempotent schema migrations.

Each migration is one ``warehouse/migrations/NNNN_name.sql`` file (statements separated by ``;``
at the end of a line) applied once, in name order, and recorded in ``andon_schema_migrations``.
Every statement is ``CREATE ... IF NOT EXISTS``, so a table a Collector created already is used
as it is, and a half-applied migration can simply run again.

Number ranges keep packages out of each other's way: 0001-0009 telemetry, 0010-0019 collectors,
0020-0029 analysis, 0030-0039 ticketing, 0040-0049 rca, 0050-0059 scheduler and console.

Placeholders (``string.Template``): ``${db}`` the database; ``${on_cluster}`` an ON CLUSTER
clause or nothing; ``${replicated}`` "Replicated" on a cluster, else nothing (engines then use
the server's default replica path); ``${ttl}``, ``${ttl_start}``, ``${ttl_time}`` a TTL clause
on ``Timestamp``, ``Start`` or ``TimestampTime`` when ``ttl_days`` is set.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from string import Template

from errors import WarehouseError
from warehouse.client import Warehouse, quote_identifier

MIGRATIONS_TABLE = "andon_schema_migrations"

# The columns andon reads from telemetry tables: a pre-existing table must have them.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "otel_traces": (
        "Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName",
        "ResourceAttributes", "SpanAttributes", "Duration", "StatusCode", "StatusMessage",
        "Events.Timestamp", "Events.Name", "Events.Attributes",
    ),
    "otel_logs": (
        "Timestamp", "TraceId", "SpanId", "SeverityText", "SeverityNumber", "ServiceName", "Body",
        "ResourceAttributes", "LogAttributes",
    ),
}  # fmt: skip

_STATEMENT_END = re.compile(r";\s*(?:\n|$)")


@dataclass(frozen=True)
class Migration:
    """One schema step: its id (file stem), SQL text and checksum."""

    id: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, variables: dict[str, str]) -> list[str]:
        rendered = Template(self.sql).substitute(variables)
        return [s.strip() for s in _STATEMENT_END.split(rendered) if _has_sql(s)]


def _has_sql(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def discover() -> list[Migration]:
    """Every migration shipped with andon, in the order it applies."""
    folder = resources.files("warehouse") / "migrations"
    found = [
        Migration(id=entry.name.removesuffix(".sql"), sql=entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found, key=lambda m: m.id)


def template_variables(wh: Warehouse) -> dict[str, str]:
    """The placeholder values for this warehouse's settings."""
    cfg = wh.settings
    days = cfg.ttl_days

    def ttl(column: str) -> str:
        return f"TTL toDateTime({column}) + toIntervalDay({days})" if days else ""

    return {
        "db": quote_identifier(wh.database),
        "on_cluster": f"ON CLUSTER {quote_identifier(cfg.cluster)}" if cfg.cluster else "",
        "replicated": "Replicated" if cfg.cluster else "",
        "ttl": ttl("Timestamp"),
        "ttl_start": ttl("Start"),
        "ttl_time": ttl("TimestampTime"),
    }


def applied(wh: Warehouse) -> dict[str, str]:
    """Migration id -> checksum of what this warehouse has applied."""
    if not wh.table_exists(MIGRATIONS_TABLE):
        return {}
    return dict(
        wh.rows(
            f"SELECT id, argMax(checksum, applied_at) FROM {wh.table(MIGRATIONS_TABLE)} GROUP BY id"
        )
    )


def migrate(wh: Warehouse) -> list[str]:
    """Apply every pending migration; returns the ids applied now (empty when up to date)."""
    variables = template_variables(wh)
    wh.command(
        f"CREATE TABLE IF NOT EXISTS {variables['db']}.{MIGRATIONS_TABLE} {variables['on_cluster']} "
        "(id String, checksum String, applied_at DateTime64(3)) "
        f"ENGINE = {variables['replicated']}ReplacingMergeTree(applied_at) ORDER BY id"
    )
    check_telemetry_tables(wh)  # before: refuse a foreign table instead of building on it
    done = applied(wh)
    newly: list[str] = []
    for migration in discover():
        if migration.id in done:
            continue
        for statement in migration.statements(variables):
            try:
                wh.command(statement)
            except WarehouseError as exc:
                raise WarehouseError(f"migration {migration.id} failed: {exc.message}") from exc
        wh.insert(
            MIGRATIONS_TABLE,
            [(migration.id, migration.checksum, datetime.now(UTC).replace(tzinfo=None))],
            ["id", "checksum", "applied_at"],
        )
        newly.append(migration.id)
    check_telemetry_tables(wh)
    return newly


def check_telemetry_tables(wh: Warehouse) -> None:
    """Fail clearly if a pre-existing telemetry table lacks a column andon reads."""
    for table, required in REQUIRED_COLUMNS.items():
        have = wh.columns(table)
        if not have:
            continue  # not created yet
        missing = [c for c in required if c not in have]
        if missing:
            raise WarehouseError(
                f"{wh.database}.{table} exists but lacks columns {', '.join(missing)}: it was not "
                "created by the OpenTelemetry Collector ClickHouse exporter or andon"
            )
