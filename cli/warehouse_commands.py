"""`andon status` and `andon migrate`: what the warehouse holds, and its schema."""

from __future__ import annotations

from typing import Any

import click

from cli.context import AppContext, echo_json, note, pass_app
from warehouse import Warehouse, is_embedded
from warehouse.migrate import applied, migrate


def warehouse_status(wh: Warehouse) -> dict[str, Any]:
    """Row counts per table, telemetry time range and services: the data behind `andon status`."""
    tables = wh.rows(
        "SELECT name, total_rows FROM system.tables WHERE database = {db:String} "
        "AND engine NOT IN ('MaterializedView', 'View') ORDER BY name",
        {"db": wh.database},
    )
    status: dict[str, Any] = {
        "dsn": wh.dsn if is_embedded(wh.dsn) else wh.dsn.split("@")[-1],
        "database": wh.database,
        "tables": {name: int(rows or 0) for name, rows in tables},
    }
    first, last, services = wh.rows(
        f"SELECT min(Timestamp), max(Timestamp), groupUniqArray(ServiceName) "
        f"FROM {wh.table('otel_traces')}"
    )[0]
    status["traces"] = (
        {"first": first, "last": last, "services": sorted(services)}
        if status["tables"].get("otel_traces")
        else None
    )
    return status


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Show what the warehouse holds: rows per table, time range, services.

    Example: andon status --json
    """
    data = warehouse_status(app.warehouse)
    if as_json:
        echo_json(data)
        return
    click.echo(f"warehouse  {data['dsn']}  (database {data['database']})")
    width = max((len(n) for n in data["tables"]), default=10)
    for name, count in data["tables"].items():
        click.echo(f"  {name:<{width}}  {count:>12,} rows")
    traces = data["traces"]
    if traces:
        click.echo(f"spans from {traces['first']} to {traces['last']}")
        click.echo(f"services   {', '.join(traces['services'])}")
    else:
        click.echo("no spans yet: point an OTLP exporter at `andon serve` (port 4318)")


@click.command(name="migrate")
@pass_app
def migrate_command(app: AppContext) -> None:
    """Create or upgrade andon's tables (every command also does this on first use).

    Existing tables, such as ones the OpenTelemetry Collector created, are kept as they are.
    """
    wh = app.warehouse  # opening applies pending migrations
    pending = migrate(wh)
    note(f"schema up to date: {len(applied(wh))} migrations applied ({len(pending)} just now)")


COMMANDS: list[click.Command] = [status, migrate_command]
