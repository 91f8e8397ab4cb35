"""Statistics every detector shares: tests, confidence intervals, false-discovery control.

Pure numpy/scipy; vectorised so thousands of segment tests cost milliseconds.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (well-behaved at small n and near 0 or 1)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_diff(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 (method 10), from two Wilson intervals."""
    p1, p2 = (x1 / n1 if n1 else 0.0), (x2 / n2 if n2 else 0.0)
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def two_proportion_greater(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, margin: float = 0.0
) -> np.ndarray:
    """One-sided p-values of H1: p1 > p2 + margin, vectorised; 1.0 where undefined.

    With ``margin`` 0, the pooled z test; small cells fall back to Fisher's exact test so the
    normal approximation never invents significance from a handful of sessions. With a margin
    (the smallest difference worth reporting), the null is "the difference is at most the
    margin": Farrington and Manning's score test (its variance from the proportions that best
    fit the data under the null, sturdy near 0 and 1 and at small n), and never below the
    p-value of the plain test (a difference above the margin is also a difference above 0). Searching many
    segments then cannot turn a large sample's trivial difference into a discovery, nor crowd
    the false-discovery control with such differences.
    """
    base = _two_proportion_greater(x1, n1, x2, n2)
    if margin <= 0:
        return base
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    ok = (n1 > 0) & (n2 > 0)
    m1, m2 = np.maximum(n1, 1), np.maximum(n2, 1)
    r1, r2 = _restricted_mle(x1, m1, x2, m2, margin)
    se = np.sqrt(r1 * (1 - r1) / m1 + r2 * (1 - r2) / m2)
    z = (x1 / m1 - x2 / m2 - margin) / np.where(se > 0, se, 1.0)
    shifted = np.where(ok & (se > 0), sps.norm.sf(z), 1.0)
    return np.maximum(base, shifted)


def _restricted_mle(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood proportions under p1 = p2 + margin (Farrington-Manning's restricted
    estimates), by bisection on the log-likelihood's derivative, which falls as p2 rises."""
    eps = 1e-9
    lo = np.full(x1.shape, eps)
    hi = np.full(x1.shape, 1 - margin - eps)
    for _ in range(60):
        p2 = (lo + hi) / 2
        p1 = p2 + margin
        slope = x1 / p1 - (n1 - x1) / (1 - p1) + x2 / p2 - (n2 - x2) / (1 - p2)
        rising = slope > 0
        lo = np.where(rising, p2, lo)
        hi = np.where(rising, hi, p2)
    p2 = (lo + hi) / 2
    return p2 + margin, p2


def _two_proportion_greater(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray
) -> np.ndarray:
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    out = np.ones_like(x1, dtype=float)
    ok = (n1 > 0) & (n2 > 0)
    pooled = np.where(ok, (x1 + x2) / np.maximum(n1 + n2, 1), 0.0)
    se = np.sqrt(pooled * (1 - pooled) * (1 / np.maximum(n1, 1) + 1 / np.maximum(n2, 1)))
    good = ok & (se > 0)
    z = np.where(
        good, (x1 / np.maximum(n1, 1) - x2 / np.maximum(n2, 1)) / np.where(se > 0, se, 1), 0
    )
    out[good] = sps.norm.sf(z[good])
    # Expected counts under 5 in any cell: use Fisher's exact test instead.
    small = good & (
        np.minimum.reduce([pooled * n1, (1 - pooled) * n1, pooled * n2, (1 - pooled) * n2]) < 5
    )
    for i in np.flatnonzero(small):
        table = [[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]]
        out[i] = sps.fisher_exact(np.asarray(table, dtype=int), alternative="greater")[1]
    return out


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted q-values (step-up, monotone), same order as the input."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def mann_whitney_greater(sample: np.ndarray, rest: np.ndarray) -> float:
    """One-sided Mann-Whitney U p-value that ``sample`` tends to be larger than ``rest``."""
    if sample.size < 2 or rest.size < 2:
        return 1.0
    return float(sps.mannwhitneyu(sample, rest, alternative="greater", method="asymptotic").pvalue)


def quantile_ratio_ci(
    sample: np.ndarray,
    rest: np.ndarray,
    q: float = 0.75,
    *,
    iterations: int = 300,
    seed: int = 0,
    max_points: int = 5000,
) -> tuple[float, float]:
    """Bootstrap 95% interval of quantile(sample) / quantile(rest) (percentile method)."""
    rng = np.random.default_rng(seed)
    # Subsample large inputs: the interval's width barely changes and the cost stays flat.
    a = rng.choice(sample, max_points, replace=False) if sample.size > max_points else sample
    b = rng.choice(rest, max_points, replace=False) if rest.size > max_points else rest
    ia = rng.integers(0, a.size, size=(iterations, a.size))
    ib = rng.integers(0, b.size, size=(iterations, b.size))
    qa = np.quantile(a[ia], q, axis=1)
    qb = np.quantile(b[ib], q, axis=1)
    ratios = qa / np.where(qb > 0, qb, np.nan)
    low, high = np.nanquantile(ratios, [0.025, 0.975])
    return float(low), float(high)


def quantile_ci(values: np.ndarray, q: float = 0.75) -> tuple[float, float]:
    """Distribution-free 95% interval of a quantile (binomial order statistics)."""
    n = values.size
    if n == 0:
        return math.nan, math.nan
    ordered = np.sort(values)
    half = Z95 * math.sqrt(n * q * (1 - q))
    lo = int(max(0, math.floor(n * q - half)))
    hi = int(min(n - 1, math.ceil(n * q + half)))
    return float(ordered[lo]), float(ordered[hi])


def mean_diff_ci(sample: np.ndarray, rest: np.ndarray) -> tuple[float, float]:
    """Welch 95% interval of mean(sample) - mean(rest)."""
    if sample.size < 2 or rest.size < 2:
        return -math.inf, math.inf
    d = float(sample.mean() - rest.mean())
    se = math.sqrt(sample.var(ddof=1) / sample.size + rest.var(ddof=1) / rest.size)
    return d - Z95 * se, d + Z95 * se


def welch_greater(sample: np.ndarray, rest: np.ndarray) -> float:
    """One-sided Welch t-test p-value that mean(sample) > mean(rest)."""
    if sample.size < 2 or rest.size < 2:
        return 1.0
    if sample.var() == 0 and rest.var() == 0:
        return 0.0 if sample.mean() > rest.mean() else 1.0
    return float(sps.ttest_ind(sample, rest, equal_var=False, alternative="greater").pvalue)


def confidence_label(q_value: float, n: int, min_sessions: int) -> str:
    """high / medium / low from the false-discovery-adjusted evidence and the support."""
    if q_value < 1e-4 and n >= 3 * min_sessions:
        return "high"
    if q_value < 1e-2 and n >= min_sessions:
        return "medium"
    return "low"
