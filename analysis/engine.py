"""The analysis of one window: sessions -> flows -> friction findings -> ranked clusters.

`analyse` does the I/O (SQL pre-aggregation, tickets, errors) and hands frames to the pure
functions of the other modules; `find_frictions` is the pure core used by tests and benchmarks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime

import polars as pl

from analysis.clusters import FrictionContext, build_cluster, rank_clusters
from analysis.config import AnalysisSettings
from analysis.error_groups import error_group_clusters, error_group_reach, link_errors
from analysis.flows import (
    Flow,
    came_from,
    declared_flows,
    discover_flows,
    flow_transitions,
    siblings,
)
from analysis.friction import (
    Candidate,
    dropoff_candidates,
    error_candidates,
    retry_candidates,
    slow_candidates,
)
from analysis.models import Cluster, TicketTheme
from analysis.previous import previous_window_candidates
from analysis.selection import (
    adjust,
    concentrated,
    error_verdict,
    fold_dropoffs,
    mean_test,
    overlaps,
    passes,
    rate_test,
    refine,
    strongest,
)
from analysis.sessions import count_roots, discover_attributes, fetch_sessions
from analysis.steps import events, session_steps, step_stats, transition_outcomes
from analysis.themes import link_themes, theme_clusters, ticket_themes
from warehouse import Warehouse


@dataclass
class Findings:
    """What the pure core found in a session frame."""

    flows: list[Flow]
    findings: list[tuple[Candidate, dict[str, float]]]
    candidates: int
    frames: dict[tuple[str, str], pl.DataFrame] = field(default_factory=dict)
    events: pl.DataFrame | None = None
    units: list[tuple[str, str, str, str]] = field(default_factory=list)
    step_stats: pl.DataFrame | None = None


@dataclass
class AnalysisResult:
    """Clusters (ranked), ticket themes, stage timings and volumes of one analysis."""

    clusters: list[Cluster]
    themes: list[TicketTheme]
    timings: dict[str, float]
    sessions: int
    flows: list[Flow]


def thresholds(cfg: AnalysisSettings) -> dict[str, float]:
    """Minimum effect per kind (rates: absolute difference; latency, attempts: relative)."""
    return {
        "dropoff": cfg.min_rate_effect,
        "error_abandon": cfg.min_rate_effect,
        "retry": cfg.min_attempts_effect,
        "slow_step": cfg.min_relative_effect,
    }


def find_frictions(
    sessions: pl.DataFrame,
    attributes: list[str],
    cfg: AnalysisSettings,
    previous: pl.DataFrame | None = None,
) -> Findings:
    """Every friction finding in a session frame (pure: no I/O, no clock).

    ``previous`` (the previous window's sessions) adds everyone-level tests: drop-off and
    latency of each step against that window.
    """
    flows = declared_flows(cfg.flows) or discover_flows(sessions, cfg.min_flow_sessions)
    units = flow_transitions(flows)
    if not units:
        return Findings(flows, [], 0)
    ev = events(sessions)
    steps = session_steps(ev)
    # Each transition reads a few steps' rows: split once instead of filtering every time.
    by_step = steps.partition_by("step", as_dict=True)

    def rows_of(*names: str) -> pl.DataFrame:
        parts = [by_step[(n,)] for n in dict.fromkeys(names) if (n,) in by_step]
        return pl.concat(parts) if parts else steps.clear()

    attr_frame = sessions.select("session_id", *attributes)
    at_step: dict[str, pl.DataFrame] = {}

    def rows_at(step: str) -> pl.DataFrame:
        """The step's rows with the segment attributes (joined once per step)."""
        if step not in at_step:
            at_step[step] = rows_of(step).join(attr_frame, on="session_id", how="left")
        return at_step[step]

    min_n = cfg.min_sessions
    frames: dict[tuple[str, str], pl.DataFrame] = {}
    candidates: list[Candidate] = []
    stats = step_stats(steps)
    flow_steps = sorted({u[0] for u in units} | {u[1] for u in units})
    # Goal steps have no next step, but can still need retries (or fail and be retried).
    goals = [(f.goal, "", f.name, f.goal) for f in flows]
    goal_units = [g for i, g in enumerate(goals) if g not in goals[:i]]
    for unit in units + goal_units:
        # Drop-off and errors: the flow's sessions at the step (the path they came by, where
        # they went on); on a goal step, every session there.
        entry = came_from(flows, unit[0], unit[1])
        branches = siblings(units, unit[0], unit[1])
        tf = transition_outcomes(rows_at(unit[0]), rows_of(unit[1], *branches, *entry), unit[1],
                                 branches, entry)  # fmt: skip
        if tf.height < 2 * min_n:
            continue
        frames[(unit[0], unit[1])] = tf
        if unit[1]:
            candidates += dropoff_candidates(tf, unit, attributes, min_n, cfg.min_rate_effect)
        elsewhere = stats.filter(pl.col("step").is_in(flow_steps) & (pl.col("step") != unit[0]))
        other = (int(elsewhere["error_sessions"].sum()), int(elsewhere["sessions"].sum()))
        candidates += error_candidates(tf, unit, attributes, min_n, other, cfg.min_rate_effect)
    for step, unit in _step_owners(units + goal_units).items():
        # Retries belong to the step whatever flow a session follows: every session there.
        sf = frames.get((step, ""))
        if sf is None:
            sf = transition_outcomes(rows_at(step), steps.clear(), "")
        if sf.height < 2 * min_n:
            continue
        frames[(step, "")] = sf
        candidates += retry_candidates(sf, (step, "", unit[2], unit[3]), attributes, min_n,
                                       cfg.min_attempts_effect)  # fmt: skip
    ev_attrs = ev.join(attr_frame, on="session_id", how="left")
    candidates += slow_candidates(ev_attrs, units, attributes, min_n, cfg.min_relative_effect)
    if previous is not None:
        branch_map = {(u[0], u[1]): siblings(units, u[0], u[1]) for u in units}
        entry_map = {(u[0], u[1]): came_from(flows, u[0], u[1]) for u in units}
        candidates += previous_window_candidates(
            previous, frames, ev, units, branch_map, min_n, entry_map,
            rate_margin=cfg.min_rate_effect, relative_margin=cfg.min_relative_effect,
        )  # fmt: skip
    if not candidates:
        return Findings(flows, [], 0, frames, ev_attrs, units)
    adjust(candidates)
    limits = thresholds(cfg)
    passing = [c for c in candidates if passes(c, cfg.fdr, min_n, limits)]
    best = strongest(passing)
    findings: list[tuple[Candidate, dict[str, float]]] = []
    converted: set[tuple[str, str]] = set()
    for key in sorted(best):
        c = best[key]
        found_tf = frames.get((c.step, c.next_step))
        extra: dict[str, float] = {}
        if c.kind == "dropoff" and found_tf is not None:
            c = refine(c, found_tf.filter(~pl.col("had_error")), rate_test("dropped", min_n),
                       attributes, alpha=cfg.fdr, min_effect=cfg.min_rate_effect,
                       min_sessions=min_n, relative=False)  # fmt: skip
        elif c.kind == "retry" and found_tf is not None:
            c = refine(c, found_tf.filter(pl.col("succeeded")), mean_test("attempts", min_n),
                       attributes, alpha=cfg.fdr, min_effect=cfg.min_attempts_effect,
                       min_sessions=min_n, relative=True)  # fmt: skip
        elif c.kind == "error_abandon" and found_tf is not None:
            # Errors up for everyone only because one segment fails: report the segment.
            c = concentrated(c, passing, found_tf, alpha=cfg.fdr, min_effect=cfg.min_rate_effect)
            if c.segment:
                c = refine(c, found_tf, rate_test("had_error", min_n), attributes, alpha=cfg.fdr,
                           min_effect=cfg.min_rate_effect, min_sessions=min_n,
                           relative=False)  # fmt: skip
            verdict, extra = error_verdict(
                found_tf, c.segment, alpha=cfg.fdr, min_effect=cfg.min_rate_effect
            )
            if verdict == "retry":
                if ("retry", c.step, "") in best or ("retry", c.step) in converted:
                    continue  # users retry until it works: the retry finding covers it
                converted.add(("retry", c.step))
                # Errors everyone retries through: a retry finding of its own.
                c = replace(c, kind="retry", metric="attempts_per_success")
            else:
                extra["resolves_on_reload"] = 1.0 if verdict == "reload" else 0.0
        findings.append((c, extra))
    findings = fold_dropoffs(_one_cause_per_step(findings, frames), frames)
    return Findings(flows, findings, len(candidates), frames, ev_attrs, units, stats)


def _step_owners(units: list[tuple[str, str, str, str]]) -> dict[str, tuple[str, str, str, str]]:
    """Each step of the flows, with the first unit that names it (its flow and goal)."""
    owners: dict[str, tuple[str, str, str, str]] = {}
    for unit in units:
        owners.setdefault(unit[0], unit)
    return owners


def _one_cause_per_step(
    findings: list[tuple[Candidate, dict[str, float]]], frames: dict[tuple[str, str], pl.DataFrame]
) -> list[tuple[Candidate, dict[str, float]]]:
    """Errors that go away on reload also raise attempts: report them once, as error_abandon."""
    error_steps = {c.step: c for c, _ in findings if c.kind == "error_abandon"}
    kept = []
    for c, extra in findings:
        err = error_steps.get(c.step)
        tf = frames.get((err.step, err.next_step)) if err is not None else None
        if (
            c.kind == "retry"
            and err is not None
            and tf is not None
            and overlaps(tf, err.segment, c.segment)
        ):
            continue
        kept.append((c, extra))
    return kept


def analyse(
    wh: Warehouse, cfg: AnalysisSettings, since: datetime, until: datetime, now: datetime
) -> AnalysisResult:
    """Analyse [since, until): friction clusters, error groups and ticket themes, ranked."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        t1 = time.perf_counter()
        timings[name] = round(t1 - t0, 3)
        t0 = t1

    attrs = discover_attributes(
        wh, since, until, max_values=cfg.max_segment_values, ignore=cfg.ignore_attributes,
        extra=cfg.segment_attributes,
    )  # fmt: skip
    lap("attributes")
    sessions = fetch_sessions(wh, since, until, attrs, gap_minutes=cfg.session_gap_minutes)
    prev_since = since - (until - since)
    previous = (
        fetch_sessions(wh, prev_since, since, attrs, gap_minutes=cfg.session_gap_minutes)
        if count_roots(wh, prev_since, since)
        else None
    )
    lap("sessions")
    keys = [a.key for a in attrs]
    found = find_frictions(sessions, keys, cfg, previous)
    lap("frictions")
    ctx = FrictionContext(wh, cfg, since, until, sessions, keys, found.flows, found.frames,
                          found.events, found.units, found.step_stats)  # fmt: skip
    clusters = [build_cluster(ctx, c, extra) for c, extra in found.findings]
    lap("evidence")
    error_words = link_errors(wh, clusters, ctx.error_traces, since, until)
    groups = error_group_clusters(wh, cfg, since, until)
    reach, group_words = error_group_reach(wh, groups, since, until)
    clusters += groups
    lap("error_groups")
    # Friction clusters shape the themes; error groups only link to them (a regressed error can
    # reach most sessions, and would join tickets on unrelated topics).
    themes = ticket_themes(wh, cfg, since, until, ctx.affected)
    link_themes(themes, clusters, {**ctx.affected, **reach}, {**error_words, **group_words})
    clusters += theme_clusters(themes, cfg)
    lap("themes")
    ranked = rank_clusters(clusters)
    lap("ranking")
    return AnalysisResult(ranked, themes, timings, sessions.height, found.flows)
