"""Friction detectors: candidate findings with raw p-values, per flow transition and segment.

Each detector compares the sessions of a segment against the rest, at one step:

- ``dropoff``: sessions that reached the step and never reached the flow's next step (sessions
  that hit an error there are left to ``error_abandon``, so one cause gives one finding);
- ``retry``: attempts per session that eventually succeeded at the step;
- ``error_abandon``: where errors at the step concentrate, and whether sessions that hit them
  leave (or, when the error goes away on reload, the hidden friction of a retry);
- ``slow_step``: the step's latency for the segment, relative to the same segment's latency on
  the other steps (a segment that is slower everywhere, such as older phones, is not a step
  friction).

The engine pools every p-value of a run for false-discovery control and keeps the findings
that pass it and the minimum support and effect size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats as sps

from analysis.segments import SegmentTest, mean_tests, rate_tests
from analysis.stats import two_proportion_greater

LOG_BIN = 0.02  # latency histogram resolution: 2% per bin


@dataclass
class Candidate:
    """A segment test turned into a possible finding (before false-discovery control)."""

    kind: str
    flow: str
    step: str
    next_step: str
    goal: str
    segment: dict[str, str]
    metric: str
    value: float
    baseline: float
    n_in: int
    n_out: int
    effect: float  # what the thresholds apply to: a difference of rates, or a ratio - 1
    p: float
    q: float = 1.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """One finding per key: retries and latency belong to a step whatever comes next."""
        if self.kind in ("retry", "slow_step"):
            return (self.kind, self.step, "")
        return (self.kind, self.step, self.next_step)


def _from_tests(
    tests: list[SegmentTest], kind: str, metric: str, unit: tuple[str, str, str, str],
    *, relative: bool,
) -> list[Candidate]:  # fmt: skip
    step, next_step, flow, goal = unit
    out = []
    for t in tests:
        effect = (
            (t.value_in / t.value_out - 1)
            if relative and t.value_out > 0
            else t.value_in - t.value_out
        )
        out.append(
            Candidate(kind, flow, step, next_step, goal, t.segment, metric, t.value_in,
                      t.value_out, t.n_in, t.n_out, effect, t.p, extra=dict(t.extra))
        )  # fmt: skip
    return out


def dropoff_candidates(
    tf: pl.DataFrame, unit: tuple[str, str, str, str], attributes: list[str], min_n: int,
    margin: float = 0.0,
) -> list[Candidate]:  # fmt: skip
    """Segments that leave after the step more often, by more than ``margin`` (among sessions
    without an error there)."""
    clean = tf.filter(~pl.col("had_error"))
    return _from_tests(
        rate_tests(clean, "dropped", attributes, min_n, margin), "dropoff", "dropoff_rate", unit,
        relative=False,
    )  # fmt: skip


def retry_candidates(
    tf: pl.DataFrame, unit: tuple[str, str, str, str], attributes: list[str], min_n: int,
    margin: float = 0.0,
) -> list[Candidate]:  # fmt: skip
    """Segments that need more attempts at the step before it works (more than ``1 + margin``
    times as many)."""
    done = tf.filter(pl.col("succeeded"))
    return _from_tests(
        mean_tests(done, "attempts", attributes, min_n, margin), "retry", "attempts_per_success",
        unit, relative=True,
    )  # fmt: skip


def error_candidates(
    tf: pl.DataFrame, unit: tuple[str, str, str, str], attributes: list[str], min_n: int,
    other_steps: tuple[int, int], margin: float = 0.0,
) -> list[Candidate]:  # fmt: skip
    """Segments where errors at the step concentrate; and, for everyone, whether sessions hit
    errors at this step more often than at the flows' other steps (``other_steps`` = (session
    steps with an error, session steps) elsewhere); by more than ``margin`` (rate points)."""
    found = _from_tests(
        rate_tests(tf, "had_error", attributes, min_n, margin), "error_abandon", "error_rate",
        unit, relative=False,
    )  # fmt: skip
    x1, n1 = int(tf["had_error"].sum()), tf.height
    x2, n2 = other_steps
    if x1 >= min_n and n2 > 0:
        p = float(two_proportion_greater(np.array([x1]), np.array([n1]), np.array([x2]),
                                         np.array([n2]), margin)[0])  # fmt: skip
        step, next_step, flow, goal = unit
        found.append(
            Candidate("error_abandon", flow, step, next_step, goal, {}, "error_rate", x1 / n1,
                      x2 / n2, n1, n2, x1 / n1 - x2 / n2, p)
        )  # fmt: skip
    return found


def _hist_quantile(hist: np.ndarray, q: float) -> float:
    total = hist.sum()
    if total <= 0:
        return math.nan
    idx = int(np.searchsorted(np.cumsum(hist), q * total))
    return idx


def slow_candidates(
    ev: pl.DataFrame, units: list[tuple[str, str, str, str]], attributes: list[str], min_n: int,
    margin: float = 0.0,
) -> list[Candidate]:  # fmt: skip
    """Segments for which a step is slower than the same segment is on other steps.

    Latencies are binned on a 2% log scale per (step, attribute value); the test is a
    Mann-Whitney U computed from the histograms after dividing the segment's latencies by its
    typical slowness (median ratio over the other steps) and by ``1 + margin`` (the smallest
    slowdown worth reporting), so it is cheap at any volume.
    """
    margin_bins = round(math.log1p(margin) / LOG_BIN)
    steps = sorted({u[0] for u in units} | {u[1] for u in units})
    owner: dict[str, tuple[str, str, str, str]] = {}
    for u in units:
        owner.setdefault(u[0], u)
    for u in units:  # the goal step of a flow has no outgoing transition but can be slow
        owner.setdefault(u[1], (u[1], "", u[2], u[3]))
    data = ev.filter(pl.col("step").is_in(steps) & (pl.col("duration_ms") > 0))
    if data.height == 0:
        return []
    bins = (data["duration_ms"].log().to_numpy() / LOG_BIN).astype(np.int64)
    lo = int(bins.min())
    bins -= lo
    nb = int(bins.max()) + 1
    step_index = {s: i for i, s in enumerate(steps)}
    si = data["step"].replace_strict(step_index, return_dtype=pl.Int64).to_numpy()
    totals = np.zeros((len(steps), nb))
    np.add.at(totals, (si, bins), 1)
    out: list[Candidate] = []
    for attribute in attributes:
        col = data[attribute].fill_null("")
        values = sorted(v for v in col.unique().to_list() if v)
        if not values:
            continue
        vi = col.replace_strict({v: i for i, v in enumerate(values)}, default=-1,
                                return_dtype=pl.Int64).to_numpy()  # fmt: skip
        mask = vi >= 0
        hist = np.zeros((len(steps), len(values), nb))
        np.add.at(hist, (si[mask], vi[mask], bins[mask]), 1)
        n_in = hist.sum(axis=2)
        rest = totals[:, None, :] - hist
        n_out = rest.sum(axis=2)
        q_in = np.array([[_hist_quantile(hist[s, v], 0.75) for v in range(len(values))]
                         for s in range(len(steps))], dtype=float)  # fmt: skip
        q_out = np.array([[_hist_quantile(rest[s, v], 0.75) for v in range(len(values))]
                          for s in range(len(steps))], dtype=float)  # fmt: skip
        log_ratio = (q_in - q_out) * LOG_BIN  # difference of log p75s
        enough = (n_in >= min_n) & (n_out >= min_n)
        for s, step in enumerate(steps):
            for v, value in enumerate(values):
                if not enough[s, v]:
                    continue
                others = [log_ratio[o, v] for o in range(len(steps)) if o != s and enough[o, v]]
                ref = float(np.median(others)) if others else 0.0
                shift = round(ref / LOG_BIN) + margin_bins
                seg = np.roll(hist[s, v], -shift) if shift else hist[s, v]
                if shift > 0:
                    seg[-shift:] = 0
                    seg[0] += hist[s, v][:shift].sum()
                elif shift < 0:
                    seg[:-shift] = 0
                    seg[-1] += hist[s, v][shift:].sum()
                p = _mann_whitney_hist(seg, rest[s, v])
                ratio = math.exp(log_ratio[s, v])
                adjusted = math.exp(log_ratio[s, v] - ref)
                unit = owner[step]
                out.append(
                    Candidate("slow_step", unit[2], step, unit[1], unit[3], {attribute: value},
                              "p75_ms", math.exp((q_in[s, v] + lo + 0.5) * LOG_BIN),
                              math.exp((q_out[s, v] + lo + 0.5) * LOG_BIN), int(n_in[s, v]),
                              int(n_out[s, v]), adjusted - 1, p,
                              extra={"ratio": ratio, "segment_typical_ratio": math.exp(ref)})
                )  # fmt: skip
    return out


def _mann_whitney_hist(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided p-value that draws from histogram ``a`` exceed draws from ``b`` (normal approx.)."""
    n1, n2 = a.sum(), b.sum()
    if n1 < 2 or n2 < 2:
        return 1.0
    below = np.cumsum(b) - b
    u = float((a * (below + 0.5 * b)).sum())
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return float(sps.norm.sf((u - mean) / sd))
