"""`andon serve`: the receivers, the console/API and the scheduler in one process."""

from __future__ import annotations

from typing import Any

import click

from cli.context import AppContext, note, pass_app
from server.runtime import RunningServer, serve


def _describe(running: RunningServer) -> None:
    settings = running.context.settings
    auth = "bearer token required" if settings.ingest.token is not None else "no token"
    note(f"andon serve: OTLP/HTTP on {running.ingest_url} (POST /v1/traces, /v1/logs; {auth})")
    note(f"andon serve: console and API on {running.console_url}")
    for startup_note in running.context.startup_notes:
        note(startup_note(running.console_url))
    note(f"andon serve: warehouse {settings.warehouse.dsn} (database {running.warehouse.database})")
    note("andon serve: ready; Ctrl-C (SIGINT) or SIGTERM stops gracefully")


def _stopping(running: RunningServer) -> None:
    queued = running.writer.queued_rows
    note(f"andon serve: stopping; flushing {queued:,} accepted rows")


@click.command(name="serve")
@click.option("--host", help="Address the OTLP receiver binds to (default 127.0.0.1).")
@click.option("--port", type=int, help="OTLP/HTTP port (default 4318; 0: any free port).")
@click.option("--console-host", help="Address the console and API bind to (default 127.0.0.1).")
@click.option("--console-port", type=int, help="Console and API port (default 8318).")
@pass_app
def serve_command(
    app: AppContext,
    host: str | None,
    port: int | None,
    console_host: str | None,
    console_port: int | None,
) -> None:
    """Run the OTLP/HTTP receiver, the console/API and the scheduler until stopped.

    Point OpenTelemetry SDKs or a Collector at it, e.g.
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318. Holds the embedded warehouse while it
    runs; stop it with Ctrl-C or SIGTERM, which flushes everything already accepted.

    Example: andon serve --port 4318 --console-port 8318
    """
    ingest: dict[str, Any] = {}
    server: dict[str, Any] = {}
    if host is not None:
        ingest["host"] = host
    if port is not None:
        ingest["port"] = port
    if console_host is not None:
        server["console_host"] = console_host
    if console_port is not None:
        server["console_port"] = console_port
    settings = app.settings.model_copy(
        update={
            "ingest": app.settings.ingest.model_copy(update=ingest),
            "server": app.settings.server.model_copy(update=server),
        }
    )
    serve(settings, on_ready=_describe, on_stopping=_stopping)
    note("andon serve: stopped")


COMMANDS: list[click.Command] = [serve_command]
