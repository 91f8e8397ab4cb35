"""Closed-form expectations of a step's attempts, used to write the manifest's expected values.

A step is attempted until it succeeds: attempt k fails with probability ``q[k]``; after a failed
attempt the user tries again with probability ``r[k]`` (else leaves); after the last allowed
attempt they leave. These are exactly the probabilities the generator draws with, so the expected
values in the manifest differ from what the data shows by sampling error only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StepOdds:
    """What one visit to a step is expected to produce."""

    p_success: float  # succeeds at some attempt
    attempts_when_success: float  # sum over k of (k + 1) * P(success at attempt k)
    p_first_error: float  # the first attempt fails
    p_success_after_error: float  # fails first, succeeds later


def step_odds(q: list[float], r: list[float]) -> StepOdds:
    """Expectations of one visit, from per-attempt failure and retry probabilities."""
    reach = 1.0  # probability attempt k happens
    p_success = 0.0
    weighted = 0.0
    after_error = 0.0
    for k, qk in enumerate(q):
        success_here = reach * (1.0 - qk)
        p_success += success_here
        weighted += (k + 1) * success_here
        if k > 0:
            after_error += success_here
        if k + 1 < len(q):
            reach *= qk * r[k]
    return StepOdds(
        p_success=p_success,
        attempts_when_success=weighted,
        p_first_error=q[0] if q else 0.0,
        p_success_after_error=after_error,
    )
