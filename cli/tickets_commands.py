"""`andon tickets ...`: the PM review gate on the command line (a thin layer over
`ticketing.service`)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click

from cli.context import AppContext, echo_json, note, pass_app
from errors import InputError
from ticketing import service
from ticketing.exporters import TARGETS
from ticketing.exporters.render import markdown
from ticketing.models import PRIORITIES, STATUSES, Ticket


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "cli"


_actor_option = click.option(
    "--actor", help="Who does this (recorded in the ticket's history; default: your login)."
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group(name="tickets")
def tickets() -> None:
    """Review the tickets andon drafted from friction clusters: list, show, approve, reject,
    edit, export.

    Example: andon tickets list --status proposed
    """


@tickets.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only tickets in this state.")
@click.option("--priority", type=click.Choice(PRIORITIES), help="Only this priority.")
@click.option("--kind", help="Only this cluster kind (dropoff, retry, slow_step ...).")
@_json_option
@pass_app
def list_command(
    app: AppContext, status: str | None, priority: str | None, kind: str | None, as_json: bool
) -> None:
    """List tickets, highest priority and impact first.

    Example: andon tickets list --status proposed --json
    """
    found = service.list_tickets(app.warehouse, status=status, priority=priority, kind=kind)
    if as_json:
        echo_json([t.summary() for t in found])
        return
    if not found:
        note("no tickets (run `andon run` to analyse and draft)")
        return
    for t in found:
        grounded = "grounded" if t.grounded else "UNGROUNDED"
        click.echo(
            f"{t.id}  {t.priority}  {t.status:<9} {t.kind:<13} "
            f"{t.impact.affected_sessions:>7,} sessions  {grounded:<10}  {t.title}"
        )


def _show_text(ticket: Ticket, events: list[Any]) -> str:
    head = (
        f"{ticket.id}  {ticket.priority}  {ticket.status}"
        + (f" ({ticket.status_reason})" if ticket.status_reason else "")
        + f"\n# {ticket.title}\n\n"
    )
    trail = "\n".join(
        f"- v{e.version} {e.at:%Y-%m-%d %H:%M} {e.actor}: {e.action}"
        + (f" ({e.reason})" if e.reason else "")
        for e in events
    )
    return head + markdown(ticket) + "\n## History\n\n" + trail


@tickets.command(name="show")
@click.argument("ticket_id")
@_json_option
@pass_app
def show_command(app: AppContext, ticket_id: str, as_json: bool) -> None:
    """Show one ticket: problem, impact, evidence with SQL, traces, criteria, history.

    Example: andon tickets show TKT-3f2a9c1b7d
    """
    ticket = service.get_ticket(app.warehouse, ticket_id)
    events = service.history(app.warehouse, ticket_id)
    if as_json:
        data = ticket.model_dump(mode="json")
        data["grounded"] = ticket.grounded
        data["history"] = [e.model_dump(mode="json") for e in events]
        echo_json(data)
        return
    click.echo(_show_text(ticket, events))


def _print_ticket(ticket: Ticket, as_json: bool, verb: str) -> None:
    if as_json:
        echo_json(ticket.summary())
    else:
        click.echo(f"{ticket.id} {verb} (now {ticket.status}, version {ticket.version})")


@tickets.command(name="approve")
@click.argument("ticket_id")
@click.option("--reason", help="Why (optional, kept in the history).")
@_actor_option
@_json_option
@pass_app
def approve_command(
    app: AppContext, ticket_id: str, reason: str | None, actor: str | None, as_json: bool
) -> None:
    """Approve a proposed or edited ticket so it can be exported.

    Example: andon tickets approve TKT-3f2a9c1b7d --actor alice
    """
    ticket = service.approve(app.warehouse, ticket_id, _actor(actor), reason)
    _print_ticket(ticket, as_json, "approved")


@tickets.command(name="reject")
@click.argument("ticket_id")
@click.option("--reason", required=True, help="Why it is rejected (required).")
@_actor_option
@_json_option
@pass_app
def reject_command(
    app: AppContext, ticket_id: str, reason: str, actor: str | None, as_json: bool
) -> None:
    """Reject a ticket with a reason; it returns only if its impact grows past the policy.

    Example: andon tickets reject TKT-3f2a9c1b7d --reason "known, fixed in 4.3"
    """
    ticket = service.reject(app.warehouse, ticket_id, _actor(actor), reason)
    _print_ticket(ticket, as_json, "rejected")


@tickets.command(name="edit")
@click.argument("ticket_id")
@click.option("--title", help="New title.")
@click.option("--problem", help="New problem statement.")
@click.option("--affected", help="New 'who is affected' text.")
@click.option("--scope", multiple=True, help="Suggested scope item (repeat; replaces the list).")
@click.option("--priority", type=click.Choice(PRIORITIES), help="Override the policy priority.")
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object of field -> new value.",
)
@click.option("--reason", help="Why (kept in the history).")
@_actor_option
@_json_option
@pass_app
def edit_command(
    app: AppContext,
    ticket_id: str,
    title: str | None,
    problem: str | None,
    affected: str | None,
    scope: tuple[str, ...],
    priority: str | None,
    from_file: Path | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Edit a ticket's words or priority; it goes back to review as 'edited'.

    Example: andon tickets edit TKT-3f2a9c1b7d --title "Address form rejects valid UK postcodes"
    """
    changes: dict[str, Any] = {}
    if from_file is not None:
        try:
            loaded = json.loads(from_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(
                f"invalid JSON: {exc.msg}", file=str(from_file), line=exc.lineno
            ) from exc
        if not isinstance(loaded, dict):
            raise InputError("expected a JSON object of field -> value", file=str(from_file))
        changes.update(loaded)
    for name, value in (
        ("title", title),
        ("problem", problem),
        ("affected", affected),
        ("priority", priority),
    ):
        if value is not None:
            changes[name] = value
    if scope:
        changes["suggested_scope"] = list(scope)
    if not changes:
        raise InputError(
            "nothing to change: give --title, --problem, --affected, --scope, --priority or --from-file"
        )
    ticket = service.edit(app.warehouse, ticket_id, _actor(actor), changes, reason)
    _print_ticket(ticket, as_json, "edited")


@tickets.command(name="export")
@click.argument("ticket_id", default="approved")
@click.option(
    "--to", "target", type=click.Choice(TARGETS), help="Where to (default: settings, files)."
)
@_actor_option
@_json_option
@pass_app
def export_command(
    app: AppContext, ticket_id: str, target: str | None, actor: str | None, as_json: bool
) -> None:
    """Export an approved ticket (or every approved one: the default) to files, GitHub Issues,
    Jira Cloud or Linear. Safe to retry: an exported ticket is never filed twice.

    Example: andon tickets export --to github
    """
    results = service.export(
        app.warehouse,
        app.settings.ticketing,
        ticket_id,
        target,
        _actor(actor),
    )
    if as_json:
        echo_json([r.to_json() for r in results])
        return
    if not results:
        note("no approved tickets to export")
    for r in results:
        verb = "exported" if r.created else "already exported"
        click.echo(f"{r.ticket_id} {verb} to {r.target}: {r.external_id} {r.url}")


@tickets.command(name="history")
@click.argument("ticket_id")
@_json_option
@pass_app
def history_command(app: AppContext, ticket_id: str, as_json: bool) -> None:
    """Show a ticket's audit trail: every transition with actor, time and reason.

    Example: andon tickets history TKT-3f2a9c1b7d
    """
    events = service.history(app.warehouse, ticket_id)
    if as_json:
        echo_json([e.model_dump(mode="json") for e in events])
        return
    for e in events:
        click.echo(
            f"v{e.version}  {e.at:%Y-%m-%d %H:%M:%S}  {e.actor:<16} {e.action:<16} "
            f"{e.from_status or '-'} -> {e.to_status}  {e.reason}"
        )


COMMANDS: list[click.Command] = [tickets]
