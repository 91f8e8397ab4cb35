"""Entry point of the `andon` command.

Each area keeps its commands in its own module here (``cli/<area>_commands.py``) exposing click
commands or groups; `COMMANDS` lists them. User mistakes become one line, ``Error: ...``, exit 1.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from cli import (
    console_commands,
    incidents_commands,
    ingest_commands,
    run_commands,
    serve_commands,
    simulate_commands,
    tickets_commands,
    warehouse_commands,
)
from cli.context import AppContext
from errors import AndonError
from settings import load_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Settings file (default: $ANDON_CONFIG, else ./andon.toml if present).",
)
@click.option(
    "--dsn",
    help="Warehouse DSN, overriding settings: chdb:///abs/dir or http(s)://user:pass@host:8123.",
)
@click.option("--database", help="Warehouse database name, overriding settings.")
@click.version_option(package_name="andon")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, dsn: str | None, database: str | None) -> None:
    """andon: pulls the cord, with evidence, when real users struggle or production regresses.

    Ingests OpenTelemetry traces and logs, error events, support tickets and CI/CD change events
    into ClickHouse; finds friction clusters and incidents; drafts evidence-backed tickets and
    incident briefs for people to review.

    Settings precedence: flags > ANDON_* environment > andon.toml > defaults.
    """
    overrides: dict[str, Any] = {}
    warehouse: dict[str, Any] = {}
    if dsn:
        warehouse["dsn"] = dsn
    if database:
        warehouse["database"] = database
    if warehouse:
        overrides["warehouse"] = warehouse
    app = AppContext(settings=load_settings(config_file, overrides))
    ctx.obj = app
    ctx.call_on_close(app.close)


COMMANDS: list[click.Command] = [
    *warehouse_commands.COMMANDS,
    *console_commands.COMMANDS,
    *ingest_commands.COMMANDS,
    *run_commands.COMMANDS,
    *tickets_commands.COMMANDS,
    *serve_commands.COMMANDS,
    *incidents_commands.COMMANDS,
    *simulate_commands.COMMANDS,
]
for command in COMMANDS:
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn andon's errors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="andon", standalone_mode=False)
    except AndonError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
