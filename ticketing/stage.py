"""The ticketing stage of the batch cycle (`pipeline.cycle`): draft or update a ticket per
(grouped) cluster of the run, and hand the contract fields to the cycle result
(``id, title, priority, status, cluster_ids, grounded``, plus a few more)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketing.service import draft_for_run

if TYPE_CHECKING:
    from pipeline.cycle import CycleContext


def draft_tickets_stage(ctx: CycleContext) -> None:
    """Tickets for ``ctx.clusters`` into ``ctx.tickets`` (with the configured writer/policy)."""
    window_days = (ctx.until - ctx.since).total_seconds() / 86_400
    outcome = draft_for_run(
        ctx.warehouse, ctx.settings, ctx.clusters, ctx.run_id, ctx.now, window_days=window_days
    )
    ctx.tickets = [t.summary() for t in outcome.tickets]
    ctx.outputs["tickets_created"] = len(outcome.created)
    ctx.outputs["tickets_updated"] = len(outcome.updated)
    ctx.outputs["tickets_unchanged"] = len(outcome.unchanged)
    ctx.outputs["tickets_reproposed"] = len(outcome.reproposed)
    ctx.outputs["tickets_suppressed"] = len(outcome.suppressed)
    ctx.outputs["tickets_auto_approved"] = len(outcome.auto_approved)
    ctx.outputs["tickets_ungrounded"] = sum(1 for t in outcome.tickets if not t.grounded)
