"""`andon run` (one batch cycle) and `andon clusters list|show` (what runs found)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from cli.context import AppContext, echo_json, note, pass_app
from errors import InputError

if TYPE_CHECKING:
    from analysis.models import Cluster

# The analysis stack (scipy, scikit-learn) is imported inside the commands that use it, so that
# `andon --help` and unrelated commands start quickly.


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time as naive UTC (``Z`` or an offset converted; no zone means UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"not an ISO 8601 time: {value!r} (e.g. 2026-11-20T00:00:00Z)", field=option
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


@click.command(name="run")
@click.option(
    "--since", help="Window start, ISO 8601 (default: --until minus analysis.window_hours)."
)
@click.option("--until", help="Window end, ISO 8601 (default: now).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object: run_id, clusters, tickets, incidents.",
)
@pass_app
def run_command(app: AppContext, since: str | None, until: str | None, as_json: bool) -> None:
    """Run one batch cycle over a window: derive errors, analyse friction, draft tickets,
    detect incidents. The run is recorded with its id, window, parameters and timings.

    Example: andon run --since 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z --json
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    from pipeline.cycle import run_cycle

    result = run_cycle(
        app.settings, app.warehouse, parse_time(since, "--since"), parse_time(until, "--until"),
        now,
    )  # fmt: skip
    if as_json:
        echo_json(result.to_json())
        return
    note(
        f"run {result.run_id}: {result.window.since.isoformat()}Z .. "
        f"{result.window.until.isoformat()}Z in {result.timings.get('total', 0):.1f}s"
    )
    _print_clusters(result.clusters)
    click.echo(f"{len(result.tickets)} tickets, {len(result.incidents)} incidents")


def _print_clusters(clusters: list[Cluster]) -> None:
    if not clusters:
        click.echo("no friction clusters")
        return
    for rank, c in enumerate(clusters, start=1):
        click.echo(f"{rank:>3}. [{c.kind}] {c.id}  {c.title}")


@click.group(name="clusters")
def clusters_group() -> None:
    """Friction clusters found by analysis runs."""


@clusters_group.command(name="list")
@click.option("--run", "run_id", help="Run id (default: the latest successful run).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_app
def clusters_list(app: AppContext, run_id: str | None, as_json: bool) -> None:
    """List a run's clusters, ranked by impact.

    Example: andon clusters list --json
    """
    from analysis.store import load_clusters

    clusters = load_clusters(app.warehouse, run_id)
    if as_json:
        echo_json([c.model_dump(mode="json") for c in clusters])
        return
    _print_clusters(clusters)


@clusters_group.command(name="show")
@click.argument("cluster_id")
@click.option("--run", "run_id", help="Run id (default: the latest run that reported it).")
@click.option("--json", "as_json", is_flag=True, help="Print the cluster as JSON.")
@pass_app
def clusters_show(app: AppContext, cluster_id: str, run_id: str | None, as_json: bool) -> None:
    """Show one cluster with its evidence: numbers, SQL, exemplar traces, segments.

    Example: andon clusters show cl-dropoff-0123456789ab
    """
    from analysis.store import get_cluster

    c = get_cluster(app.warehouse, cluster_id, run_id)
    if as_json:
        echo_json(c.model_dump(mode="json"))
        return
    click.echo(f"{c.id}  [{c.kind}]  confidence {c.confidence}")
    click.echo(c.title)
    click.echo(f"  {c.metric}: {c.value} (baseline {c.baseline}, 95% CI {c.ci_low}..{c.ci_high})")
    click.echo(f"  affected sessions {c.affected_sessions}, users {c.affected_users}, "
               f"lost conversions {c.lost_conversions}")  # fmt: skip
    for item in c.evidence:
        click.echo(f"  - {item.id} ({item.kind}): {item.summary}")
        if item.trace_ids:
            click.echo(f"    traces: {', '.join(item.trace_ids)}")
    if c.sql:
        click.echo("  SQL:")
        click.echo("    " + c.sql.replace("\n", "\n    "))


@click.command(name="runs")
@click.option("--limit", default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_app
def runs_command(app: AppContext, limit: int, as_json: bool) -> None:
    """List recent analysis runs: id, status, window, timings.

    Example: andon runs --json
    """
    from pipeline.runs import load_runs

    runs = load_runs(app.warehouse, limit)
    if as_json:
        echo_json([r.model_dump(mode="json") for r in runs])
        return
    for r in runs:
        click.echo(f"{r.run_id}  {r.status:<9}  {r.window_start:%Y-%m-%dT%H:%M}Z.."
                   f"{r.window_end:%Y-%m-%dT%H:%M}Z  {r.timings.get('total', 0):.1f}s  "
                   f"{len(r.outputs.get('clusters', []))} clusters")  # fmt: skip


COMMANDS: list[click.Command] = [run_command, clusters_group, runs_command]
