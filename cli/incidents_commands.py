"""`andon incidents list|show|brief|detect|declare|resolve|history`: incidents and their briefs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from cli.context import AppContext, echo_json, note, pass_app
from errors import InputError
from rca import service
from rca.models import Incident


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time (``2026-03-02T10:00``, ``...Z``, ``...+01:00``) as naive UTC."""
    if value is None:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"not an ISO 8601 time: {value!r}", field=option) from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _row(incident: Incident) -> str:
    top = incident.suspects[0] if incident.suspects else None
    suspect = (
        f"{top.service} {top.version}" + (f" PR #{top.pr_number}" if top and top.pr_number else "")
        if top
        else "-"
    )
    origin = f"{incident.origin.service}/{incident.origin.operation}" if incident.origin else "-"
    return (
        f"{incident.id}  {incident.status:<8}  {incident.severity:<8}  {incident.onset:%Y-%m-%d %H:%M}  "
        f"{incident.service} {incident.route}  [{incident.signal}]  origin {origin}  suspect {suspect}"
    )


@click.group(name="incidents")
def incidents() -> None:
    """Incidents: detected regressions and declared ones, with their RCA briefs.

    Example: andon incidents list --status open
    """


@incidents.command(name="list")
@click.option(
    "--status", type=click.Choice(["open", "resolved"]), help="Only incidents in this state."
)
@click.option("--service", "service_name", help="Only incidents of this service.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_app
def list_command(
    app: AppContext, status: str | None, service_name: str | None, as_json: bool
) -> None:
    """List incidents, newest onset first.

    Example: andon incidents list --status open --json
    """
    found = service.list_incidents(app.warehouse, status=status, service=service_name)
    if as_json:
        echo_json([i.contract() for i in found])
        return
    if not found:
        note("no incidents")
    for incident in found:
        click.echo(_row(incident))


@incidents.command(name="show")
@click.argument("incident_id")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the whole incident (all evidence) as JSON."
)
@pass_app
def show_command(app: AppContext, incident_id: str, as_json: bool) -> None:
    """Show one incident: contract fields, or every piece of evidence with --json.

    Example: andon incidents show inc-3f2a9c01de --json
    """
    incident = service.get_incident(app.warehouse, incident_id)
    if as_json:
        echo_json(incident.model_dump(mode="json"))
        return
    click.echo(_row(incident))
    click.echo(incident.title)


@incidents.command(name="brief")
@click.argument("incident_id")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True,
    help="Markdown, self-contained HTML (with a chart), or JSON.",
)  # fmt: skip
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of stdout.",
)
@pass_app
def brief_command(app: AppContext, incident_id: str, fmt: str, output: str | None) -> None:
    """Print an incident's RCA brief (written and stored on first request if needed).

    Example: andon incidents brief inc-3f2a9c01de --format html -o brief.html
    """
    text = service.brief(app.warehouse, app.settings, incident_id, fmt)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        note(f"wrote {output}")
    else:
        click.echo(text)


@incidents.command(name="detect")
@click.option(
    "--since", help="Start of the window (ISO 8601, UTC by default); default: first span."
)
@click.option("--until", help="End of the window (ISO 8601); default: last span.")
@click.option("--json", "as_json", is_flag=True, help="Print the incidents found as a JSON array.")
@pass_app
def detect_command(app: AppContext, since: str | None, until: str | None, as_json: bool) -> None:
    """Detect incidents in a window, investigate them and write their briefs.

    `andon run` does this as one stage of the batch cycle; this runs only that stage.

    Example: andon incidents detect --since 2026-03-02T10:00Z --json
    """
    result = service.detect(
        app.warehouse, app.settings, parse_time(since, "since"), parse_time(until, "until")
    )
    for line in result.notes:
        note(line)
    note(f"{len(result.incidents)} incident(s), {len(result.changed)} new or updated")
    if as_json:
        echo_json([i.contract() for i in result.incidents])
        return
    for incident in result.incidents:
        click.echo(_row(incident))


@incidents.command(name="declare")
@click.option("--service", "service_name", required=True, help="The service that is degraded.")
@click.option("--since", required=True, help="When it started (ISO 8601, UTC by default).")
@click.option("--route", help="Only this route of the service (default: its busiest routes).")
@click.option("--actor", default=None, help="Who declares it (default: $USER).")
@click.option("--note", "note_text", default="", help="Why it is declared.")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@pass_app
def declare_command(
    app: AppContext,
    service_name: str,
    since: str,
    route: str | None,
    actor: str | None,
    note_text: str,
    as_json: bool,
) -> None:
    """Declare an incident that detection did not open; its RCA brief is written at once.

    Example: andon incidents declare --service pricing --since 2026-03-02T11:10Z --actor alice
    """
    import getpass

    when = parse_time(since, "since")
    assert when is not None
    incident = service.declare(
        app.warehouse,
        app.settings,
        service_name,
        when,
        actor or getpass.getuser(),
        route,
        note=note_text,
    )
    if as_json:
        echo_json(incident.contract())
        return
    click.echo(_row(incident))


@incidents.command(name="resolve")
@click.argument("incident_id")
@click.option(
    "--note",
    "note_text",
    required=True,
    help="How it was resolved (what the next brief will recall).",
)
@click.option("--actor", default=None, help="Who resolved it (default: $USER).")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@pass_app
def resolve_command(
    app: AppContext, incident_id: str, note_text: str, actor: str | None, as_json: bool
) -> None:
    """Resolve an incident with a note; similar incidents later show how it was resolved.

    Example: andon incidents resolve inc-3f2a9c01de --note "rolled back pricing 2.0.0"
    """
    import getpass

    incident = service.resolve(app.warehouse, incident_id, note_text, actor or getpass.getuser())
    if as_json:
        echo_json(incident.contract() | {"resolution": incident.resolution})
        return
    note(f"resolved {incident.id}")


@incidents.command(name="history")
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_app
def history_command(app: AppContext, incident_id: str, as_json: bool) -> None:
    """Show an incident's append-only history (detected, updated, declared, resolved).

    Example: andon incidents history inc-3f2a9c01de
    """
    events = service.history(app.warehouse, incident_id)
    if as_json:
        echo_json(events)
        return
    for e in events:
        click.echo(f"v{e['version']}  {e['at']}  {e['kind']:<9} {e['actor']}  {e['note']}")


COMMANDS: list[click.Command] = [incidents]
