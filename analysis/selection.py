"""From candidate findings to the findings worth reporting (pure).

1. Benjamini-Hochberg over every candidate of the run (all detectors, steps and segments).
2. Keep candidates with q <= fdr, enough sessions and a large enough effect.
3. One finding per (kind, step): the strongest segment, then refined with a second attribute
   when that concentrates the friction further (a conjunction like iOS + version 5.12.0).
4. Errors at a step are told apart: sessions leave after them (``error_abandon``), or they go
   away on reload (still ``error_abandon``: hidden friction), or users retry several times
   until it works (``retry``); one cause gives one finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import polars as pl

from analysis.friction import Candidate
from analysis.segments import SegmentTest, equivalent, in_segment, mean_tests, rate_tests, share
from analysis.stats import benjamini_hochberg, two_proportion_greater

MULTI_FAIL_SHARE = (
    0.05  # above: users fail several times in a row (retry), below: a reload fixes it
)


def passes(c: Candidate, fdr: float, min_sessions: int, thresholds: dict[str, float]) -> bool:
    """False-discovery control, minimum support and minimum effect."""
    return c.q <= fdr and c.n_in >= min_sessions and c.effect >= thresholds[c.kind]


def adjust(candidates: list[Candidate]) -> None:
    """Set each candidate's Benjamini-Hochberg q-value (over the whole run)."""
    q = benjamini_hochberg(np.array([c.p for c in candidates], dtype=float))
    for c, qv in zip(candidates, q, strict=True):
        c.q = float(qv)


def _rank_key(c: Candidate) -> tuple[float, int, int, str]:
    return (c.p, -c.n_in, len(c.segment), repr(sorted(c.segment.items())))


def strongest(candidates: list[Candidate]) -> dict[tuple[str, str, str], Candidate]:
    """The best passing candidate per (kind, step, next step)."""
    best: dict[tuple[str, str, str], Candidate] = {}
    for c in sorted(candidates, key=_rank_key):
        best.setdefault(c.key, c)
    return best


TestFn = Callable[[pl.DataFrame, list[str]], list[SegmentTest]]


def refine(
    c: Candidate,
    frame: pl.DataFrame,
    test: TestFn,
    attributes: list[str],
    *,
    alpha: float,
    min_effect: float,
    min_sessions: int,
    relative: bool,
) -> Candidate:
    """Narrow a segment with more attributes while that concentrates the friction further.

    Within the segment, each other attribute value is tested against the rest of the segment
    (Bonferroni over those tests); the best significant one with a large enough effect is added.
    """
    current = c
    for _ in range(2):
        inside = frame.filter(in_segment(current.segment))
        others = [a for a in attributes if a not in current.segment]
        tests = [t for t in test(inside, others) if t.n_in >= min_sessions]
        if not tests:
            break
        cutoff = alpha / len(tests)

        def effect(t: SegmentTest) -> float:
            if relative:
                return t.value_in / t.value_out - 1 if t.value_out > 0 else 0.0
            return t.value_in - t.value_out

        good = [t for t in tests if t.p <= cutoff and effect(t) >= min_effect]
        if not good:
            break
        t = min(good, key=lambda t: (t.p, -t.n_in, t.attribute, t.value))
        # Skip a value that only renames the segment (the same sessions).
        if equivalent(inside, {}, t.segment):
            break
        current = replace(current, segment={**current.segment, t.attribute: t.value})
    return current


def rate_test(outcome: str, min_n: int) -> TestFn:
    """A `refine` test on a boolean outcome."""
    return lambda frame, attrs: rate_tests(frame, outcome, attrs, min_n)


def mean_test(measure: str, min_n: int) -> TestFn:
    """A `refine` test on a mean."""
    return lambda frame, attrs: mean_tests(frame, measure, attrs, min_n)


def error_verdict(
    tf: pl.DataFrame, segment: dict[str, str], *, alpha: float, min_effect: float
) -> tuple[str, dict[str, float]]:
    """What errors at a step do to the sessions of a segment that hit them.

    Returns ``("abandon" | "reload" | "retry", numbers)``: sessions leave after the error
    significantly more than error-free sessions leave the step; or the error goes away on the
    first reload (hidden friction); or users fail several times before it works.
    """
    inside = tf.filter(in_segment(segment))
    errors = inside.filter(pl.col("had_error"))
    clean = tf.filter(~pl.col("had_error"))
    # The verdict looks at sessions that never got past the error; sessions that got past it on
    # a reload and left later anyway count as abandoned in the reported rate, not here.
    x1, n1 = int(errors["gave_up"].sum()), errors.height
    x2, n2 = int(clean["dropped"].sum()), clean.height
    rate, base = (x1 / n1 if n1 else 0.0), (x2 / n2 if n2 else 0.0)
    p = float(
        two_proportion_greater(np.array([x1]), np.array([n1]), np.array([x2]), np.array([n2]))[0]
    )
    recovered = errors.filter(pl.col("recovered"))
    multi = share(recovered["errors"] >= 2) if recovered.height else 0.0
    numbers = {
        "gave_up_rate": rate,
        "abandon_rate_after_error": share(errors["abandoned_after_error"]),
        "leave_rate_without_error": base,
        "error_sessions": n1,
        "abandoned_sessions": x1,
        "recovered_sessions": recovered.height,
        "recovered_share": recovered.height / n1 if n1 else 0.0,
        "multi_failure_share": multi,
        "p_abandon": p,
    }
    if p <= alpha and rate - base >= min_effect:
        return "abandon", numbers
    if multi < MULTI_FAIL_SHARE:
        return "reload", numbers
    return "retry", numbers


def concentrated(
    c: Candidate,
    passing: list[Candidate],
    frame: pl.DataFrame,
    *,
    alpha: float,
    min_effect: float,
) -> Candidate:
    """The segment an everyone-level error finding owes its significance to, if there is one.

    Errors at a step for everyone are compared with the flows' other steps; when they
    concentrate in one segment (US sessions fail at ``/verify``), the whole step's rate is up
    only because of it. For each passing segment finding of the same key (strongest first), the
    sessions *outside* the segment are tested against the same baseline: if they show no
    significant, large enough excess, the segment is the finding. Otherwise the step fails for
    everyone and ``c`` stands.
    """
    if c.segment or c.kind != "error_abandon":
        return c
    rivals = sorted(
        (s for s in passing if s.key == c.key and s.segment and s.metric == c.metric),
        key=_rank_key,
    )
    x2, n2 = round(c.baseline * c.n_out), c.n_out
    for s in rivals:
        outside = frame.filter(~in_segment(s.segment))
        x1, n1 = int(outside["had_error"].sum()), outside.height
        if n1 == 0:
            continue
        p = float(
            two_proportion_greater(np.array([x1]), np.array([n1]), np.array([x2]), np.array([n2]))[
                0
            ]
        )
        if p > alpha or x1 / n1 - x2 / n2 < min_effect:
            return s
    return c


def fold_dropoffs(
    findings: list[tuple[Candidate, dict[str, float]]], frames: dict[tuple[str, str], pl.DataFrame]
) -> list[tuple[Candidate, dict[str, float]]]:
    """A drop-off that an error finding at the same transition and segment explains is folded
    into it: reported once, with the drop-off's numbers added to the error finding's.

    Sessions that hit an error are left out of the drop-off test, yet the segment's error-free
    sessions can leave more too (a failure the telemetry does not show as an error, a user who
    saw it fail for someone else): one problem, not two.
    """
    errors = [(c, extra) for c, extra in findings if c.kind == "error_abandon"]
    kept: list[tuple[Candidate, dict[str, float]]] = []
    for c, extra in findings:
        if c.kind == "dropoff" and c.segment:
            frame = frames.get((c.step, c.next_step))
            host = next(
                (
                    (e, e_extra)
                    for e, e_extra in errors
                    if e.step == c.step
                    and e.next_step == c.next_step
                    and e.segment
                    and frame is not None
                    and overlaps(frame, e.segment, c.segment)
                ),
                None,
            )
            if host is not None:
                host[1].update(
                    folded_dropoff_rate=c.value,
                    folded_dropoff_baseline=c.baseline,
                    folded_dropoff_sessions=c.n_in,
                    folded_dropoff_q=c.q,
                )
                continue
        kept.append((c, extra))
    return kept


def overlaps(frame: pl.DataFrame, a: dict[str, str], b: dict[str, str]) -> bool:
    """Whether most sessions of the smaller of two segments are in the other one too."""
    ia = frame.select(in_segment(a)).to_series()
    ib = frame.select(in_segment(b)).to_series()
    inter = int((ia & ib).sum())
    return inter > 0.5 * min(int(ia.sum()), int(ib.sum()))
