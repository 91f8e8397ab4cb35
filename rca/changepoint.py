"""Change-point estimation of an incident's onset.

Detection tells that a series shifted and roughly when the shift became sustained; the onset is
the minute where the series is best explained by two flat segments (before, after): the split
that minimizes the summed squared deviations from each segment's mean (a single mean-shift, the
first step of binary segmentation). Latency is compared on a log scale so one slow minute does
not pull the split.
"""

from __future__ import annotations

import numpy as np


def mean_shift_split(values: np.ndarray, min_segment: int = 2) -> int | None:
    """Index of the first value of the second segment of the best single mean shift.

    NaNs are ignored (the split index refers to ``values``' positions). None when there are too
    few values to split.
    """
    positions = np.flatnonzero(~np.isnan(values))
    x = values[positions]
    n = len(x)
    if n < 2 * min_segment:
        return None
    cumsum = np.cumsum(x)
    cumsq = np.cumsum(x * x)
    total, total_sq = cumsum[-1], cumsq[-1]
    best_cost, best_k = np.inf, None
    for k in range(min_segment, n - min_segment + 1):
        left_n, right_n = k, n - k
        left_sum, left_sq = cumsum[k - 1], cumsq[k - 1]
        right_sum, right_sq = total - left_sum, total_sq - left_sq
        cost = (left_sq - left_sum**2 / left_n) + (right_sq - right_sum**2 / right_n)
        if cost < best_cost - 1e-12:
            best_cost, best_k = cost, k
    if best_k is None:
        return None
    return int(positions[best_k])


def onset_index(
    values: np.ndarray,
    run_start: int,
    confirmed_end: int,
    lookback: int = 30,
    log_scale: bool = False,
) -> int:
    """Estimated onset position in ``values`` for a run detected at ``run_start``.

    The split is searched in ``[run_start - lookback, confirmed_end]``; the run start is kept when
    no split is found, and the onset never falls after the run start (the run's first anomalous
    minute is already degraded).
    """
    lo = max(0, run_start - lookback)
    hi = min(len(values), confirmed_end + 1)
    segment = values[lo:hi].astype(float)
    if log_scale:
        with np.errstate(divide="ignore", invalid="ignore"):
            segment = np.log(np.where(segment > 0, segment, np.nan))
    split = mean_shift_split(segment)
    if split is None:
        return run_start
    return min(lo + split, run_start)
