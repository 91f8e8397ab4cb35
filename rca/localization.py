"""Localization: which service and operation a degradation starts in (pure).

Every operation's *own* contribution to a request is compared across the onset, per trace of
the degraded routes: self time (its duration minus its children's) for latency, and errors it
raised itself (failed while none of its children failed) for errors. A database call three hops
down that got slow shows up as that call's self time, while the frontend's own self time stays
flat, so the frontend is not blamed for waiting.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from rca.models import Origin, OriginCandidate


def _per_trace(frame: pl.DataFrame, traces: dict[bool, int], column: str) -> pl.DataFrame:
    before_n = max(traces.get(False, 0), 1)
    after_n = max(traces.get(True, 0), 1)
    return (
        frame.with_columns(pl.col("after").cast(pl.Boolean))
        .group_by("service", "operation")
        .agg(
            (pl.col(column).filter(~pl.col("after")).sum() / before_n).alias("before"),
            (pl.col(column).filter(pl.col("after")).sum() / after_n).alias("after_v"),
        )
        .with_columns((pl.col("after_v") - pl.col("before")).alias("delta"))
        .sort("delta", "service", "operation", descending=[True, False, False])
    )


def _rank(table: pl.DataFrame) -> list[OriginCandidate]:
    positive = float(table.filter(pl.col("delta") > 0)["delta"].sum()) or 1.0
    return [
        OriginCandidate(
            service=row["service"],
            operation=row["operation"],
            before=round(row["before"], 4),
            after=round(row["after_v"], 4),
            delta=round(row["delta"], 4),
            share=round(max(row["delta"], 0.0) / positive, 4),
        )
        for row in table.head(5).iter_rows(named=True)
    ]


def localize(
    frame: pl.DataFrame,
    traces: dict[bool, int],
    kind: Literal["latency", "errors", "auto"] = "auto",
) -> Origin | None:
    """The origin from the per-operation before/after frame of `rca.queries.operation_changes`.

    ``auto`` picks errors when own errors per trace rose by a material amount (1 in 50 traces),
    else latency. None when there is nothing before or after to compare.
    """
    if frame.is_empty() or not traces.get(False) or not traces.get(True):
        return None
    errors = _per_trace(frame, traces, "own_errors")
    latency = _per_trace(frame, traces, "self_ms")
    if kind == "auto":
        top_error_delta = float(errors["delta"].max() or 0.0)  # type: ignore[arg-type]
        kind = "errors" if top_error_delta >= 0.02 else "latency"
    table = errors if kind == "errors" else latency
    candidates = _rank(table)
    if not candidates or candidates[0].delta <= 0:
        return None
    top = candidates[0]
    return Origin(
        service=top.service,
        operation=top.operation,
        kind=kind,
        before=top.before,
        after=top.after,
        share=top.share,
        candidates=candidates,
    )
