"""Statistics: intervals, tests and false-discovery control against known values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.stats import (
    benjamini_hochberg,
    confidence_label,
    mann_whitney_greater,
    newcombe_diff,
    two_proportion_greater,
    wilson,
)


def test_wilson_matches_the_textbook_value() -> None:
    # Newcombe (1998), example: 81 of 263 -> 0.2553 .. 0.3662
    low, high = wilson(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4)
    assert high == pytest.approx(0.3662, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_newcombe_difference_interval() -> None:
    # Newcombe (1998) method 10, example (56/70 - 48/80): 0.0524 .. 0.3339
    low, high = newcombe_diff(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=1e-3)
    assert high == pytest.approx(0.3339, abs=1e-3)


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=60))
def test_bh_q_values_are_monotone_and_bounded(ps: list[float]) -> None:
    p = np.array(ps)
    q = benjamini_hochberg(p)
    assert np.all(q >= p - 1e-12) and np.all(q <= 1.0)
    order = np.argsort(p)
    assert np.all(np.diff(q[order]) >= -1e-12)


def test_bh_known_example() -> None:
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5]))
    # ranks 1..4: 0.01*4, 0.03*4/2, 0.04*4/3, 0.5, then the running minimum from the top
    assert q.tolist() == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])


def test_two_proportion_is_one_sided_and_uses_fisher_for_small_cells() -> None:
    big = two_proportion_greater(np.array([60]), np.array([200]), np.array([20]), np.array([200]))
    assert big[0] < 1e-6
    reverse = two_proportion_greater(
        np.array([20]), np.array([200]), np.array([60]), np.array([200])
    )
    assert reverse[0] > 0.99
    small = two_proportion_greater(np.array([3]), np.array([4]), np.array([0]), np.array([4]))
    assert small[0] == pytest.approx(0.0714, abs=1e-3)  # Fisher exact, one-sided


def test_mann_whitney_detects_a_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.lognormal(5.5, 0.3, 300)
    b = rng.lognormal(5.0, 0.3, 3000)
    assert mann_whitney_greater(a, b) < 1e-10
    assert mann_whitney_greater(b[:300], b[300:]) > 0.01


def test_confidence_label() -> None:
    assert confidence_label(1e-9, 500, 30) == "high"
    assert confidence_label(1e-3, 40, 30) == "medium"
    assert confidence_label(0.02, 40, 30) == "low"


def test_a_margin_tests_for_more_than_the_smallest_effect_worth_reporting() -> None:
    one = np.array
    # 2 points more on 200,000 sessions each: overwhelming against 0, nothing against 3 points.
    plain = two_proportion_greater(one([22_000]), one([200_000]), one([18_000]), one([200_000]))
    margin = two_proportion_greater(
        one([22_000]), one([200_000]), one([18_000]), one([200_000]), 0.03
    )
    assert plain[0] < 1e-50 and margin[0] > 0.99
    # 12 points more on 187 sessions against 1,600: significant against 0, weak against 3.
    small = (one([57]), one([187]), one([295]), one([1623]))
    assert two_proportion_greater(small[0], small[1], small[2], small[3])[0] < 1e-4
    assert 1e-3 < two_proportion_greater(small[0], small[1], small[2], small[3], 0.03)[0] < 1e-2
    # A large effect stays significant; a margin never makes a test more significant.
    assert two_proportion_greater(one([120]), one([200]), one([40]), one([200]), 0.03)[0] < 1e-9
    rng = np.random.default_rng(1)
    n1, n2 = rng.integers(1, 400, 200), rng.integers(1, 400, 200)
    x1, x2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
    assert np.all(
        two_proportion_greater(x1, n1, x2, n2, 0.03) >= two_proportion_greater(x1, n1, x2, n2)
    )
