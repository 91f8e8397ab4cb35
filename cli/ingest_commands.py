"""`andon ingest tickets|changes|errors|deploys`, `andon record deploy|gate`, `andon pull zendesk`.

Thin commands over the library functions in `ingest/`: files in, a report out (stdout, or JSON
with ``--json``), every rejected row on stderr with its file, line and field, and exit code 1
when anything was rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from cli.context import AppContext, echo_json, note, pass_app
from errors import InputError
from ingest import changes, tickets, zendesk
from ingest.deploy_inference import infer_deployments
from ingest.errors import derive_errors
from ingest.fields import parse_time
from ingest.report import IngestReport


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, option)
    except InputError as exc:
        raise click.BadParameter(exc.reason, param_hint=option) from exc


def _window(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    end = _time(until, "--until") or datetime.now(UTC).replace(tzinfo=None)
    start = _time(since, "--since") or end - timedelta(days=1)
    if start >= end:
        raise click.BadParameter("must be before --until", param_hint="--since")
    return start, end


def _finish(reports: list[IngestReport], as_json: bool) -> None:
    for report in reports:
        for rejection in report.rejected:
            note(f"rejected: {rejection}")
    if as_json:
        echo_json(reports[0].to_dict() if len(reports) == 1 else [r.to_dict() for r in reports])
    else:
        for report in reports:
            click.echo(
                f"{report.source}: {report.stored} stored, {report.duplicates} already stored, "
                f"{len(report.rejected)} rejected"
            )
    rejected = sum(len(r.rejected) for r in reports)
    if rejected:
        note(f"Error: {rejected} row(s) rejected (every valid row was stored)")
        raise click.exceptions.Exit(1)


@click.group(name="ingest")
def ingest_group() -> None:
    """Import support tickets and change events; derive errors and deployments from telemetry.

    Example: andon ingest tickets exports/tickets.csv
    """


@ingest_group.command(name="tickets")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--source", help="Source name the ids belong to (default: the format).")
@click.option(
    "--format", "fmt", type=click.Choice(tickets.FORMATS), help="Default: from the file suffix."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def ingest_tickets(
    app: AppContext, files: tuple[str, ...], source: str | None, fmt: str | None, as_json: bool
) -> None:
    """Import support tickets from CSV, JSONL or a Zendesk incremental-export JSON file.

    Columns: id, created_at (ISO 8601), subject, body; optional updated_at, channel, tags,
    user_id, session_id, status, priority, email (kept only as a salted hash). Text is redacted
    before storage. Importing the same file again stores nothing new.

    Example: andon ingest tickets tickets.csv --source helpdesk --json
    """
    reports = [
        tickets.ingest_file(
            app.warehouse, path, source=source, fmt=fmt, settings=app.settings.collectors
        )
        for path in files
    ]
    _finish(reports, as_json)


@ingest_group.command(name="changes")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def ingest_changes(app: AppContext, files: tuple[str, ...], as_json: bool) -> None:
    """Import change events (pull_request, deployment, gate_verdict) from JSON-lines files.

    Example: andon ingest changes changes.jsonl
    """
    _finish([changes.ingest_file(app.warehouse, path) for path in files], as_json)


@ingest_group.command(name="errors")
@click.option("--since", help="Window start, ISO 8601 (default: 24 hours before --until).")
@click.option("--until", help="Window end, ISO 8601 (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def ingest_errors(app: AppContext, since: str | None, until: str | None, as_json: bool) -> None:
    """Derive error events from span exceptions and ERROR logs in a time window.

    Safe to re-run: errors already derived are not stored twice.

    Example: andon ingest errors --since 2026-03-01T00:00:00Z
    """
    start, end = _window(since, until)
    stored = derive_errors(app.warehouse, start, end)
    if as_json:
        echo_json({"since": start, "until": end, "stored": stored})
    else:
        click.echo(f"{stored} new error events from {start} to {end}")


@ingest_group.command(name="deploys")
@click.option("--since", help="Window start, ISO 8601 (default: 24 hours before --until).")
@click.option("--until", help="Window end, ISO 8601 (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def ingest_deploys(app: AppContext, since: str | None, until: str | None, as_json: bool) -> None:
    """Infer deployments from new service.version values in traces (services with no declared ones).

    Example: andon ingest deploys --since 2026-03-01T00:00:00Z
    """
    start, end = _window(since, until)
    stored = infer_deployments(app.warehouse, start, end)
    if as_json:
        echo_json({"since": start, "until": end, "stored": stored})
    else:
        click.echo(f"{stored} inferred deployments from {start} to {end}")


@click.group(name="record")
def record_group() -> None:
    """Record a deployment or a CI gate verdict (for CI jobs to call).

    Example: andon record deploy --service checkout --version 1.4.0 --commit $GITHUB_SHA
    """


def _store_one(app: AppContext, change: changes.Change, as_json: bool) -> None:
    stored, duplicates = changes.store(app.warehouse, [change])
    if as_json:
        echo_json({"stored": stored, "duplicates": duplicates})
    else:
        click.echo("recorded" if stored else "already recorded")


@record_group.command(name="deploy")
@click.option("--service", required=True, help="Service deployed.")
@click.option("--version", "version", required=True, help="Version deployed (service.version).")
@click.option("--id", "deploy_id", help="Deployment id (default: service@version@environment).")
@click.option("--commit", "commit_sha", default="", help="Commit sha deployed.")
@click.option("--environment", default="", help="Environment, e.g. production.")
@click.option(
    "--status", default="success", type=click.Choice(changes.DEPLOY_STATUSES), show_default=True
)
@click.option("--started-at", help="ISO 8601 (default: now).")
@click.option("--finished-at", help="ISO 8601 (default: now when the status is final).")
@click.option("--repo", default="", help="Repository, e.g. acme/shop.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def record_deploy(app: AppContext, as_json: bool, **options: Any) -> None:
    """Record a deployment.

    Example: andon record deploy --service checkout --version 1.4.0 --environment production
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    final = options["status"] in ("success", "failure", "error")
    data = {
        **options,
        "id": options.pop("deploy_id")
        or f"{options['service']}@{options['version']}@{options['environment']}",
        "started_at": options["started_at"] or now,
        "finished_at": options["finished_at"] or (now if final else None),
    }
    try:
        change = changes.deployment_from(data, source="cli")
    except InputError as exc:
        raise click.BadParameter(
            exc.reason, param_hint=f"--{(exc.field or '').replace('_', '-')}"
        ) from exc
    _store_one(app, change, as_json)


@record_group.command(name="gate")
@click.option("--gate", required=True, help="Gate name, e.g. perf, qa, security.")
@click.option("--verdict", required=True, type=click.Choice(changes.VERDICTS))
@click.option("--pr", "pr_number", type=int, help="Pull request number.")
@click.option("--commit", "commit_sha", default="", help="Commit sha the verdict is about.")
@click.option("--at", help="ISO 8601 (default: now).")
@click.option("--environment", default="", help="Where the gate ran, e.g. staging.")
@click.option("--measurement", "-m", multiple=True, help="name=number, repeatable.")
@click.option("--details", default="", help="Free text: what was checked.")
@click.option("--repo", default="", help="Repository, e.g. acme/shop.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def record_gate(
    app: AppContext, measurement: tuple[str, ...], as_json: bool, **options: Any
) -> None:
    """Record a CI gate verdict with its measurements.

    Example: andon record gate --gate perf --verdict pass --pr 412 -m p95_ms=182.5
    """
    measurements: dict[str, str] = {}
    for item in measurement:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(
                f"expected name=number, got {item!r}", param_hint="--measurement"
            )
        measurements[name.strip()] = value.strip()
    data = {
        **options,
        "at": options["at"] or datetime.now(UTC).replace(tzinfo=None),
        "measurements": measurements,
    }
    try:
        change = changes.gate_verdict_from(data, source="cli")
    except InputError as exc:
        hint = "--measurement" if (exc.field or "").startswith("measurements") else f"--{exc.field}"
        raise click.BadParameter(exc.reason, param_hint=hint) from exc
    _store_one(app, change, as_json)


@click.group(name="pull")
def pull_group() -> None:
    """Pull data from outside systems (Zendesk).

    Example: andon pull zendesk
    """


@pull_group.command(name="zendesk")
@click.option("--start-time", help="Start afresh from this ISO 8601 time, ignoring the cursor.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def pull_zendesk(app: AppContext, start_time: str | None, as_json: bool) -> None:
    """Pull tickets from Zendesk's incremental export, resuming at the stored cursor.

    Needs collectors.zendesk_url, zendesk_email and zendesk_token (ANDON_COLLECTORS__...).

    Example: andon pull zendesk --json
    """
    start = _time(start_time, "--start-time")
    report = zendesk.pull(
        app.warehouse,
        app.settings.collectors,
        start_time=start.replace(tzinfo=UTC) if start else None,
    )
    _finish([report], as_json)


COMMANDS: list[click.Command] = [ingest_group, record_group, pull_group]
