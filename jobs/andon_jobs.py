"""andon's own jobs: incident detection, friction analysis, support desk pull, ticket export
and housekeeping. Their schedules are ``[scheduler.jobs.<name>]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from errors import InputError
from jobs.runner import JobContext, JobDefinition

if TYPE_CHECKING:
    from settings import Settings


def _housekeeping(ctx: JobContext) -> dict[str, Any]:
    """Merge parts of andon's append-only state tables and report table sizes.

    Replacing tables keep older versions of a row until a merge; merging them keeps reads that
    use FINAL or argMax cheap. The sizes go into the run's output, so growth shows in the runs
    history.
    """
    wh = ctx.warehouse
    tables = wh.rows(
        "SELECT name, engine, total_rows, total_bytes FROM system.tables "
        "WHERE database = {db:String} AND engine LIKE '%MergeTree' ORDER BY name",
        {"db": wh.database},
    )
    merged = []
    for name, engine, _, _ in tables:
        if "Replacing" in engine and name.startswith("andon_"):
            on_cluster = ""
            cluster = getattr(wh.settings, "cluster", None)
            if cluster:
                on_cluster = f" ON CLUSTER `{cluster}`"
            wh.command(f"OPTIMIZE TABLE {wh.table(name)}{on_cluster}")
            merged.append(name)
    return {
        "merged_tables": merged,
        "tables": {
            name: {"rows": int(rows or 0), "bytes": int(size or 0)}
            for name, _, rows, size in tables
        },
    }


# The job functions import their packages when they run: `scheduler.py`, the console and the CLI
# import this module, and the packages a job uses (with Polars, scikit-learn...) are only
# needed when it runs.


def _app(ctx: JobContext) -> Settings:
    if ctx.settings is None:
        raise InputError("this job needs andon's settings (run it through `andon serve`)")
    return ctx.settings


def _detect_incidents(ctx: JobContext) -> dict[str, Any]:
    """Errors and deploys for the window, then incident detection, RCA and briefs."""
    from ingest.deploy_inference import infer_deployments
    from ingest.errors import derive_errors
    from rca import service as rca

    settings = _app(ctx)
    start, end = ctx.window.start, ctx.window.end
    errors = derive_errors(ctx.warehouse, start, end)
    deploys = infer_deployments(ctx.warehouse, start, end)
    result = rca.detect(ctx.warehouse, settings, start, end, now=ctx.now, run_id=ctx.run_id)
    return {
        "errors_derived": errors,
        "deployments_inferred": deploys,
        "incidents": [i.id for i in result.incidents],
        "new_or_changed": result.changed,
        "briefs_written": len(result.briefs),
        "delivered": result.delivered,
        "notes": result.notes,
    }


def _analyse_friction(ctx: JobContext) -> dict[str, Any]:
    """One batch cycle: derive errors, analyse friction, draft tickets, detect incidents."""
    from pipeline.cycle import run_cycle

    result = run_cycle(
        _app(ctx), ctx.warehouse, ctx.window.start, ctx.window.end, ctx.now, trigger="scheduler"
    )
    return {
        "analysis_run_id": result.run_id,
        "clusters": len(result.clusters),
        "tickets": len(result.tickets),
        "incidents": len(result.incidents),
        "timings_s": result.timings,
    }


def _pull_support_desk(ctx: JobContext) -> dict[str, Any]:
    """New and updated support tickets from Zendesk (incremental export, stored cursor)."""
    from ingest import zendesk

    settings = _app(ctx)
    if not settings.collectors.zendesk_url:
        return {"skipped": "no support desk configured (collectors.zendesk_url is empty)"}
    return zendesk.pull(ctx.warehouse, settings.collectors).to_dict()


def _export_tickets(ctx: JobContext) -> dict[str, Any]:
    """Send every approved ticket to the configured tracker (idempotent)."""
    from ticketing import service as tickets

    settings = _app(ctx)
    results = tickets.export(ctx.warehouse, settings.ticketing, "approved", actor="scheduler")
    return {
        "target": settings.ticketing.default_export_target,
        "exported": [r.to_json() for r in results if r.created],
        "already_exported": [r.ticket_id for r in results if not r.created],
    }


def andon_jobs() -> list[JobDefinition]:
    """The jobs `andon serve` schedules (their schedules are ``[scheduler.jobs.<name>]``)."""
    return [
        JobDefinition(
            "detect_incidents",
            "Looks for regressions (slower, failing or lost traffic) and writes incident briefs.",
            _detect_incidents,
        ),
        JobDefinition(
            "analyse_friction",
            "Finds where users struggle and drafts tickets for the review queue.",
            _analyse_friction,
        ),
        JobDefinition(
            "pull_support_desk",
            "Fetches new and updated support tickets from the support desk.",
            _pull_support_desk,
        ),
        JobDefinition(
            "export_tickets",
            "Sends approved tickets to the tracker.",
            _export_tickets,
        ),
        JobDefinition(
            "housekeeping",
            "Merges andon's state tables and records how big each table is.",
            _housekeeping,
        ),
    ]
