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
