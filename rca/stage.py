"""The RCA stage of the batch cycle (`pipeline.cycle`): detect incidents in the run's window,
investigate them, write their briefs, and hand the contract fields to the cycle result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rca import service

if TYPE_CHECKING:
    from pipeline.cycle import CycleContext


def detect_incidents_stage(ctx: CycleContext) -> None:
    """Incidents (``id, service, route, signal, onset, origin, suspects``) into ``ctx.incidents``."""
    if not ctx.settings.rca.enabled:
        ctx.outputs["incidents_note"] = "rca disabled (rca.enabled = false)"
        return
    result = service.detect(
        ctx.warehouse, ctx.settings, ctx.since, ctx.until, now=ctx.now, run_id=ctx.run_id
    )
    ctx.incidents = [incident.contract() for incident in result.incidents]
    ctx.outputs["incidents_changed"] = result.changed
    ctx.outputs["briefs_written"] = len(result.briefs)
    if result.delivered:
        ctx.outputs["briefs_delivered"] = result.delivered
    if result.notes:
        ctx.outputs["incidents_notes"] = result.notes
