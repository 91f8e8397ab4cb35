"""Findings -> clusters: exact numbers, confidence intervals, impact, evidence, ranking.

Every figure in a cluster's title is also in ``values`` (ticket grounding checks against them);
every cluster carries the SQL that reproduces value, baseline and affected sessions, and real
exemplar trace ids.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from analysis.config import AnalysisSettings
from analysis.evidence_sql import cluster_sql, render, run_cluster_sql
from analysis.flows import Flow, came_from, siblings
from analysis.friction import Candidate
from analysis.models import Cluster, EvidenceItem, SegmentShare
from analysis.segments import implied_attributes, in_segment, share
from analysis.stats import (
    confidence_label,
    mean_diff_ci,
    newcombe_diff,
    quantile_ci,
    quantile_ratio_ci,
    wilson,
)
from warehouse import Warehouse


@dataclass
class FrictionContext:
    """What building a cluster needs besides the finding."""

    wh: Warehouse
    cfg: AnalysisSettings
    since: datetime
    until: datetime
    sessions: pl.DataFrame
    attributes: list[str]
    flows: list[Flow]
    frames: dict[tuple[str, str], pl.DataFrame]
    events: pl.DataFrame | None
    units: list[tuple[str, str, str, str]] = field(default_factory=list)
    step_stats: pl.DataFrame | None = None
    affected: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)
    error_traces: dict[str, list[str]] = field(default_factory=dict)
    _has_previous: bool | None = None

    def has_previous(self) -> bool:
        """Whether the previous window of the same length holds any step at all."""
        if self._has_previous is None:
            length = self.until - self.since
            self._has_previous = bool(
                self.wh.scalar(
                    f"SELECT count() > 0 FROM {self.wh.table('otel_traces')} WHERE ParentSpanId = '' "
                    "AND Timestamp >= {a:DateTime64(9)} AND Timestamp < {b:DateTime64(9)}",
                    {"a": self.since - length, "b": self.since},
                )
            )
        return self._has_previous


def cluster_id(kind: str, flow: str, step: str, segment: dict[str, str], extra: str = "") -> str:
    """Deterministic id: the same finding gets the same id in every run."""
    digest = hashlib.sha1(
        json.dumps([kind, flow, step, sorted(segment.items()), extra]).encode()
    ).hexdigest()[:12]
    return f"cl-{kind}-{digest}"


def segment_text(segment: dict[str, str]) -> str:
    """``app.platform=android, app.version=5.12.0`` (or ``all sessions``)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(segment.items())) or "all sessions"


def exact_p75(values: np.ndarray) -> float:
    """The 75th percentile as ClickHouse's quantileExact computes it (element floor(0.75 n))."""
    if values.size == 0:
        return math.nan
    ordered = np.sort(values)
    return float(ordered[min(int(0.75 * ordered.size), ordered.size - 1)])


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _conversion_after(sessions: pl.DataFrame, step: str, goal: str) -> float:
    """Share of sessions reaching ``step`` that also reach ``goal`` (what a loss there costs)."""
    if not step or step == goal:
        return 1.0
    reached = sessions.filter(pl.col("steps").list.contains(step))
    if reached.height == 0:
        return 0.0
    return float(reached.select(pl.col("steps").list.contains(goal).mean()).item())


def _breakdown(
    frame: pl.DataFrame, affected: pl.Expr, attributes: list[str], top: int = 3
) -> list[SegmentShare]:
    """For each attribute, the values most over-represented among affected sessions."""
    flagged = frame.with_columns(affected.alias("_affected"))
    n_a = int(flagged["_affected"].sum())
    n_u = flagged.height - n_a
    shares: list[SegmentShare] = []
    if n_a == 0 or n_u == 0:
        return shares
    for attribute in attributes:
        counts = (
            flagged.filter(pl.col(attribute).is_not_null() & (pl.col(attribute) != ""))
            .group_by(attribute)
            .agg(pl.col("_affected").sum().alias("a"), (~pl.col("_affected")).sum().alias("u"))
        )
        rows = []
        for value, a, u in counts.iter_rows():
            share_a, share_u = a / n_a, u / n_u
            lift = share_a / share_u if share_u > 0 else math.inf
            rows.append(SegmentShare(attribute=attribute, value=str(value), affected_share=round(share_a, 4),
                                     baseline_share=round(share_u, 4),
                                     lift=round(lift, 3) if math.isfinite(lift) else 999.0,
                                     sessions=int(a + u)))  # fmt: skip
        rows.sort(key=lambda s: (-s.lift, s.value))
        shares += [r for r in rows[:top] if r.lift > 1.0 and r.affected_share >= 0.05]
    shares.sort(key=lambda s: (-s.lift, s.attribute, s.value))
    return shares[:12]


def build_cluster(ctx: FrictionContext, c: Candidate, extra: dict[str, float]) -> Cluster:
    """The cluster of one finding: exact numbers, CI, impact, exemplars, SQL, breakdown."""
    cfg = ctx.cfg
    tf = ctx.frames.get((c.step, c.next_step))
    seg = in_segment(c.segment)
    values: dict[str, float | int | str] = {}
    exemplars: list[str] = []
    sessions_ex: list[str] = []
    picks = pl.DataFrame({"session_id": []}, schema={"session_id": pl.String})
    lost = 0.0
    # A lost session would have gone on to the next step (drop-off), or first through this step
    # (retries are a step's, whatever comes next): the goal's share from there.
    conversion = _conversion_after(ctx.sessions, c.next_step or c.step, c.goal)
    breakdown_frame: pl.DataFrame | None = None
    affected_expr: pl.Expr = pl.lit(False)
    if c.kind in ("dropoff", "retry", "error_abandon") and tf is not None:
        inside, outside = tf.filter(seg), tf.filter(~seg)
        if c.kind == "dropoff":
            x1, n1 = int(inside["dropped"].sum()), inside.height
            x2, n2 = int(outside["dropped"].sum()), outside.height
            if not c.segment:  # everyone: the baseline is the previous window
                n2 = c.n_out
                x2 = round(c.baseline * n2)
            value, baseline = x1 / max(n1, 1), x2 / max(n2, 1)
            ci = wilson(x1, n1)
            diff_ci = newcombe_diff(x1, n1, x2, n2)
            affected, users_of = n1, inside
            lost = max(value - baseline, 0.0) * n1 * conversion
            values.update(dropped_sessions=x1, baseline_sessions=n2, baseline_dropped=x2)
            picks = inside.filter(pl.col("dropped")).sort("session_id")
            exemplars = picks["last_trace"].head(cfg.exemplars).to_list()
            affected_expr = pl.col("dropped")
            breakdown_frame = tf
        elif c.kind == "retry":
            a_in = inside.filter(pl.col("succeeded"))["attempts"].cast(pl.Float64).to_numpy()
            a_out = outside.filter(pl.col("succeeded"))["attempts"].cast(pl.Float64).to_numpy()
            value = float(a_in.mean())
            # everyone in the segment: the baseline is the flows' other steps
            baseline = float(a_out.mean()) if a_out.size else _other_steps_attempts(ctx, c.step)
            ci = _mean_ci(a_in)
            diff_ci = mean_diff_ci(a_in, a_out)
            affected, users_of = inside.height, inside
            with_retries = int((inside["attempts"] > 1).sum())
            gave_up = int((inside["had_error"] & ~inside["succeeded"]).sum())
            lost = gave_up * conversion
            values.update(
                sessions_with_retries=with_retries,
                share_with_retries=round(with_retries / max(inside.height, 1), 4),
                baseline_share_with_retries=round(share(outside["attempts"] > 1), 4),
                sessions_gave_up=gave_up,
                extra_attempts=round(float((a_in - 1).sum()), 1),
                error_sessions=int(inside["had_error"].sum()),
            )
            picks = inside.filter(pl.col("attempts") > 1).sort("session_id")
            exemplars = [
                t or lt
                for t, lt in zip(picks["error_trace"].head(cfg.exemplars).to_list(),
                                 picks["last_trace"].head(cfg.exemplars).to_list(), strict=True)
            ]  # fmt: skip
            affected_expr = pl.col("attempts") > 1
            breakdown_frame = tf.filter(pl.col("succeeded"))
        else:
            errs = inside.filter(pl.col("had_error"))
            clean = tf.filter(~pl.col("had_error"))
            x1, n1 = int(errs["abandoned_after_error"].sum()), errs.height
            x2, n2 = int(clean["dropped"].sum()), clean.height
            value, baseline = x1 / max(n1, 1), x2 / max(n2, 1)
            ci = wilson(x1, n1)
            diff_ci = newcombe_diff(x1, n1, x2, n2)
            affected, users_of = n1, errs
            lost = max(value - baseline, 0.0) * n1 * conversion
            values.update(
                error_sessions=n1,
                abandoned_sessions=x1,
                segment_sessions=inside.height,
                error_rate=round(n1 / max(inside.height, 1), 4),
                baseline_error_rate=round(share(outside["had_error"]), 4),
                recovered_sessions=int(errs["recovered"].sum()),
                baseline_sessions=n2,
            )
            picks = errs.sort(["abandoned_after_error", "session_id"], descending=[True, False])
            exemplars = picks["error_trace"].head(cfg.exemplars).to_list()
            affected_expr = pl.col("had_error")
            breakdown_frame = tf
        sessions_ex = picks["session_id"].head(cfg.exemplars).to_list()
    else:  # slow_step
        assert ctx.events is not None
        at = ctx.events.filter(pl.col("step") == c.step)
        d_in = at.filter(seg)["duration_ms"].to_numpy()
        d_out = at.filter(~seg)["duration_ms"].to_numpy()
        value, baseline = exact_p75(d_in), exact_p75(d_out)
        if not c.segment:  # everyone: the baseline is the previous window's p75
            baseline = c.baseline
        if d_out.size:
            r_lo, r_hi = quantile_ratio_ci(d_in, d_out, seed=cfg.themes.seed)
            ci = (r_lo * baseline, r_hi * baseline)
        else:  # everyone, against the previous window: interval of the p75 itself
            ci = quantile_ci(d_in)
            r_lo, r_hi = ci[0] / baseline, ci[1] / baseline
        diff_ci = (r_lo, r_hi)
        seg_sessions = at.filter(seg)["session_id"].unique()
        affected = seg_sessions.len()
        users_of = at.filter(seg)
        slowest = at.filter(seg).sort(["duration_ms", "trace_id"], descending=[True, False])
        exemplars = slowest["trace_id"].head(cfg.exemplars).to_list()
        sessions_ex = slowest["session_id"].head(cfg.exemplars).to_list()
        values.update(
            ratio=round(value / baseline, 3) if baseline else 0.0,
            ratio_ci_low=round(r_lo, 3),
            ratio_ci_high=round(r_hi, 3),
            segment_typical_ratio=round(c.extra.get("segment_typical_ratio", 1.0), 3),
            segment_attempts=int(d_in.size),
            baseline_attempts=int(d_out.size),
        )
        if tf is not None:
            # Does slowness go with abandonment? Drop-off of the segment at this step vs the rest.
            s_in, s_out = tf.filter(seg), tf.filter(~seg)
            if s_in.height and s_out.height:
                values["segment_dropoff_rate"] = round(share(s_in["dropped"]), 4)
                values["baseline_dropoff_rate"] = round(share(s_out["dropped"]), 4)
            breakdown_frame = tf
            slow_sessions = set(seg_sessions.to_list())
            affected_expr = pl.col("session_id").is_in(list(slow_sessions))
    who = (
        users_of.select("session_id")
        .unique()
        .join(ctx.sessions.select("session_id", "user_id"), on="session_id")
    )
    users = len({u for u in who["user_id"].to_list() if u})
    cid = cluster_id(c.kind, c.flow, c.step, c.segment)
    # Sessions that felt the friction (left, retried, hit the error, waited): what tickets cite.
    suffering = users_of if c.kind == "slow_step" else picks
    felt = (
        suffering.select("session_id")
        .unique()
        .join(ctx.sessions.select("session_id", "user_id"), on="session_id")
    )
    ctx.affected[cid] = (
        set(felt["session_id"].to_list()),
        {u for u in felt["user_id"].to_list() if u},
    )
    if "error_trace" in users_of.columns:
        ctx.error_traces[cid] = [t for t in users_of["error_trace"].to_list() if t][:2000]
    implies = implied_attributes(tf if tf is not None else ctx.sessions, c.segment, ctx.attributes) if c.segment else {}  # fmt: skip
    # Drop-off style populations leave out sessions that branched to another flow's next step.
    branches = siblings(ctx.units, c.step, c.next_step) if c.kind != "slow_step" else []
    if branches:
        values["other_flows_next_steps"] = ", ".join(branches)
    # ... and sessions that came to the step by another flow's path.
    entry = came_from(ctx.flows, c.step, c.next_step) if c.kind != "slow_step" else []
    if entry:
        values["came_from_steps"] = ", ".join(entry)
    sql, params = cluster_sql(ctx.wh, c.kind, c.step, c.next_step, c.segment, branches, entry)
    window = {"since": ctx.since, "until": ctx.until, "gap_s": cfg.session_gap_minutes * 60}
    trend = None
    previous = math.nan
    if ctx.has_previous():
        length = ctx.until - ctx.since
        prev = run_cluster_sql(ctx.wh, sql, params, ctx.since - length, ctx.since,
                               cfg.session_gap_minutes)  # fmt: skip
        previous = prev.get("value", math.nan)
        if previous and math.isfinite(previous):
            trend = round((value - previous) / previous, 4)
    values.update(
        value=_round(value), baseline=_round(baseline), affected_sessions=affected,
        affected_users=users, ci_low=_round(ci[0]), ci_high=_round(ci[1]),
        effect_ci_low=_round(diff_ci[0]), effect_ci_high=_round(diff_ci[1]),
        lost_conversions=round(lost, 1), conversion_after_step=round(conversion, 4),
    )  # fmt: skip
    if c.kind in ("dropoff", "error_abandon"):
        values.update(value_pct=_pct(value), baseline_pct=_pct(baseline),
                      difference_points=round(100 * (value - baseline), 1))  # fmt: skip
    if math.isfinite(previous):
        values["previous_value"] = _round(previous)
    for k, v in extra.items():
        values[k] = _round(v) if isinstance(v, float) else v
    if c.extra.get("previous_window"):
        values["previous_window"] = 1.0  # the baseline is the previous window, not a segment
    title = _title(c, value, baseline, affected)
    sql_text = render(sql, {**params, **window})
    evidence = [
        EvidenceItem(id="ev-rate", kind=_evidence_kind(c.kind), summary=title,
                     values={k: values[k] for k in ("value", "baseline", "affected_sessions")},
                     sql=sql_text, session_ids=sessions_ex),
        EvidenceItem(id="ev-exemplars", kind="exemplars",
                     summary=f"{len(exemplars)} example traces of affected sessions.",
                     trace_ids=[t for t in exemplars if t], session_ids=sessions_ex),
    ]  # fmt: skip
    shares = _breakdown(breakdown_frame, affected_expr, ctx.attributes) if breakdown_frame is not None else []  # fmt: skip
    if shares:
        evidence.append(
            EvidenceItem(id="ev-segments", kind="segment_breakdown",
                         summary="Attribute values over-represented among affected sessions.",
                         values={f"{s.attribute}={s.value}": s.lift for s in shares[:8]})
        )  # fmt: skip
    if "folded_dropoff_rate" in extra:
        # The segment's sessions without an error leave more too: the same problem, told once.
        evidence.append(
            EvidenceItem(id="ev-dropoff", kind="rate",
                         summary=(f"{_pct(extra['folded_dropoff_rate'])} of the segment's sessions "
                                  f"without an error at {c.step} also leave before {c.next_step}, "
                                  f"against {_pct(extra['folded_dropoff_baseline'])} of other "
                                  "sessions without an error."),
                         values={k: values[k] for k in ("folded_dropoff_rate",
                                 "folded_dropoff_baseline", "folded_dropoff_sessions")})
        )  # fmt: skip
    if trend is not None:
        evidence.append(
            EvidenceItem(id="ev-trend", kind="trend",
                         summary=f"{c.metric} was {_round(previous)} in the previous window.",
                         values={"previous_value": _round(previous), "trend": trend})
        )  # fmt: skip
    return Cluster(
        id=cid, kind=c.kind,  # type: ignore[arg-type]
        flow=c.flow, step=c.step, segment=dict(sorted(c.segment.items())), metric=_metric(c),
        value=_round(value), baseline=_round(baseline), ci_low=_round(ci[0]),
        ci_high=_round(ci[1]), p_value=c.p, q_value=c.q, affected_sessions=affected,
        affected_users=users, lost_conversions=round(lost, 1), trend=trend,
        confidence=confidence_label(c.q, affected, cfg.min_sessions),  # type: ignore[arg-type]
        score=_score(c.kind, lost, affected, value, baseline), title=title, segments=shares,
        evidence=evidence, values=values, sql=sql_text,
        exemplar_trace_ids=[t for t in exemplars if t], next_step=c.next_step, goal=c.goal,
        segment_implies=implies, window_start=ctx.since, window_end=ctx.until,
    )  # fmt: skip


def _other_steps_attempts(ctx: FrictionContext, step: str) -> float:
    """Attempts per success at the flows' other steps (the baseline when everyone is hit)."""
    if ctx.step_stats is None:
        return math.nan
    flow_steps = {u[0] for u in ctx.units} | {u[1] for u in ctx.units}
    other = ctx.step_stats.filter(pl.col("step").is_in(list(flow_steps - {step})))
    done = int(other["succeeded_sessions"].sum())
    return float(other["succeeded_attempts"].sum()) / done if done else math.nan


def _metric(c: Candidate) -> str:
    return {"dropoff": "dropoff_rate", "retry": "attempts_per_success",
            "error_abandon": "abandon_rate_after_error", "slow_step": "p75_ms"}[c.kind]  # fmt: skip


def _evidence_kind(kind: str) -> str:
    return {"dropoff": "rate", "retry": "attempts", "error_abandon": "comparison",
            "slow_step": "latency"}[kind]  # fmt: skip


def _mean_ci(a: np.ndarray) -> tuple[float, float]:
    if a.size < 2:
        return (math.nan, math.nan)
    half = 1.959963984540054 * float(a.std(ddof=1)) / math.sqrt(a.size)
    return float(a.mean()) - half, float(a.mean()) + half


def _round(x: float) -> float:
    if not math.isfinite(x):
        return x
    return round(x, 4) if abs(x) < 100 else round(x, 1)


def _title(c: Candidate, value: float, baseline: float, affected: int) -> str:
    who = segment_text(c.segment)
    if c.extra.get("previous_window"):
        if c.kind == "dropoff":
            return (f"{_pct(value)} of sessions leave at {c.step} before {c.next_step}, against "
                    f"{_pct(baseline)} in the previous window; {affected} sessions")  # fmt: skip
        return (f"{c.step} takes {_round(value)} ms at p75, against {_round(baseline)} ms in the "
                f"previous window; {affected} sessions")  # fmt: skip
    if c.kind == "dropoff":
        return (f"{_pct(value)} of sessions ({who}) leave at {c.step} before {c.next_step}, "
                f"against {_pct(baseline)} of other sessions; {affected} sessions")  # fmt: skip
    if c.kind == "retry":
        return (f"{who}: {value:.2f} attempts per success at {c.step}, against {baseline:.2f} "
                f"for other sessions; {affected} sessions")  # fmt: skip
    if c.kind == "error_abandon":
        return (f"{who}: {_pct(value)} of sessions that hit an error at {c.step} give up, "
                f"against {_pct(baseline)} leaving without an error; {affected} sessions")  # fmt: skip
    return (f"{who}: {c.step} takes {_round(value)} ms at p75, against {_round(baseline)} ms "
            f"for other sessions; {affected} sessions")  # fmt: skip


def _score(kind: str, lost: float, affected: int, value: float, baseline: float) -> float:
    """Impact used to rank every kind on one list: lost conversions first, then friction felt."""
    if baseline > 0 and kind in ("retry", "slow_step"):
        # Waiting or retrying costs less than leaving: a fifth of a rate point per session.
        felt = affected * min(value / baseline - 1, 5.0) * 0.02
    else:
        felt = affected * max(value - baseline, 0.0) * 0.1
    return round(lost + felt, 3)


def rank_clusters(clusters: list[Cluster]) -> list[Cluster]:
    """One ranked list across kinds: highest score first, ids break ties."""
    return sorted(clusters, key=lambda c: (-c.score, c.id))


def previous_window(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The window of the same length just before [since, until)."""
    length: timedelta = until - since
    return since - length, since
