"""From session sequences to the frames the detectors read (pure Polars).

- `events`: one row per root span (session, position, step, time, error, duration, trace).
- `session_steps`: one row per (session, step): attempts, errors, first/last positions, success.
- `transition_frame`: for one flow transition (step -> next step), one row per session that
  reached the step on that flow's path, with whether it went on, hit an error there, and gave
  up after it.
"""

from __future__ import annotations

import polars as pl

LIST_COLUMNS = ["steps", "ts", "is_error", "http_status", "duration_ms", "trace_ids"]


def events(sessions: pl.DataFrame) -> pl.DataFrame:
    """One row per step attempt, with its position in the session."""
    return (
        sessions.select(
            "session_id",
            pl.int_ranges(0, pl.col("steps").list.len()).alias("pos"),
            *LIST_COLUMNS,
        )
        .explode(["pos", *LIST_COLUMNS])
        .rename({"steps": "step", "trace_ids": "trace_id"})
    )


def session_steps(ev: pl.DataFrame) -> pl.DataFrame:
    """Per (session, step): attempts, failed attempts, first error, last success, positions."""
    return ev.group_by("session_id", "step").agg(
        pl.col("pos").min().alias("first_pos"),
        pl.col("pos").max().alias("last_pos"),
        pl.len().alias("attempts"),
        pl.col("is_error").sum().alias("errors"),
        pl.col("pos").filter(pl.col("is_error")).min().alias("first_error_pos"),
        pl.col("pos").filter(~pl.col("is_error")).max().alias("last_ok_pos"),
        pl.col("trace_id").filter(pl.col("is_error")).first().alias("error_trace"),
        pl.col("trace_id").last().alias("last_trace"),
    )


def transition_frame(
    steps: pl.DataFrame,
    attributes: pl.DataFrame,
    step: str,
    next_step: str,
    branches: list[str] | None = None,
    came_from: list[str] | None = None,
) -> pl.DataFrame:
    """Sessions that reached ``step``, with outcomes for the transition to ``next_step``.

    With ``came_from`` (the steps that lead to ``step`` in the flows going on to ``next_step``,
    see `analysis.flows.came_from`), only sessions that reached one of them before they first
    reached ``step`` count: those on another path to the step follow another flow. Sessions that
    went on from ``step`` to one of ``branches`` (the next step of another flow) instead of
    ``next_step`` are left out too: they followed another flow, they did not drop off.

    Columns: session_id, attempts, errors, had_error, succeeded, reached_next, dropped,
    abandoned_after_error, recovered, last_trace, error_trace, plus the segment attributes.
    """
    at = steps.filter(pl.col("step") == step).join(attributes, on="session_id", how="left")
    return transition_outcomes(at, steps, next_step, branches, came_from)


def transition_outcomes(
    at: pl.DataFrame,
    steps: pl.DataFrame,
    next_step: str,
    branches: list[str] | None = None,
    came_from: list[str] | None = None,
) -> pl.DataFrame:
    """`transition_frame` from the step's rows ``at`` (any extra columns are kept): the other
    steps' rows are read from ``steps``, in one pass (callers that build several transitions
    from one step join its attributes once)."""
    branches, came_from = branches or [], came_from or []
    wanted = [s for s in (next_step, *branches, *came_from) if s]
    position = pl.col("last_pos")
    around = (
        steps.filter(pl.col("step").is_in(wanted))
        .group_by("session_id")
        .agg(
            position.filter(pl.col("step") == next_step).max().alias("next_last_pos"),
            position.filter(pl.col("step").is_in(branches)).max().alias("branch_last_pos"),
            pl.col("first_pos").filter(pl.col("step").is_in(came_from)).min().alias("came_pos"),
        )
    )
    frame = at.join(around, on="session_id", how="left")
    if came_from:  # no step that leads here before it (null included): another path
        frame = frame.filter(pl.col("came_pos") < pl.col("first_pos"))
    frame = frame.with_columns(
        (pl.col("next_last_pos").fill_null(-1) > pl.col("first_pos")).alias("reached_next"),
        (pl.col("errors") > 0).alias("had_error"),
        pl.col("last_ok_pos").is_not_null().alias("succeeded"),
    )
    if branches:
        frame = frame.filter(
            pl.col("reached_next")
            | (pl.col("branch_last_pos").fill_null(-1) <= pl.col("first_pos"))
        )
    return (
        frame.drop("branch_last_pos", "came_pos")
        .with_columns(
            (~pl.col("reached_next")).alias("dropped"),
            (
                pl.col("had_error")
                & (pl.col("last_ok_pos").fill_null(-1) > pl.col("first_error_pos"))
            ).alias("recovered"),
        )
        .with_columns(
            # Gave up after the error: never reached the next step after it (a session that got
            # past the error on a reload but still left at this step gave up too).
            (
                pl.col("had_error")
                & (pl.col("next_last_pos").fill_null(-1) < pl.col("first_error_pos"))
            ).alias("abandoned_after_error"),
            # Gave up on the error itself: never got past it (no success after it, no next step).
            (
                pl.col("had_error")
                & ~pl.col("recovered")
                & (pl.col("next_last_pos").fill_null(-1) < pl.col("first_error_pos"))
            ).alias("gave_up"),
        )
    )


def step_stats(steps: pl.DataFrame) -> pl.DataFrame:
    """Per step: sessions, sessions with an error there, and attempts of those that succeeded."""
    return (
        steps.group_by("step")
        .agg(
            pl.len().alias("sessions"),
            (pl.col("errors") > 0).sum().alias("error_sessions"),
            pl.col("attempts")
            .filter(pl.col("last_ok_pos").is_not_null())
            .sum()
            .alias("succeeded_attempts"),
            pl.col("last_ok_pos").is_not_null().sum().alias("succeeded_sessions"),
        )
        .sort("step")
    )
