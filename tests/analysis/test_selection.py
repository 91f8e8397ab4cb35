"""Choosing what to report: the segment an everyone-level finding owes its significance to, a
drop-off an error finding explains, tests against the smallest effect worth reporting."""

from __future__ import annotations

import polars as pl
import pytest

from analysis.friction import Candidate
from analysis.segments import mean_tests
from analysis.selection import concentrated, fold_dropoffs


def _frame(error_in: float, error_out: float, n_in: int = 400, n_out: int = 3600) -> pl.DataFrame:
    """Sessions at a step: a US segment and the rest, with the given error rates."""
    country = ["US"] * n_in + ["DE"] * n_out
    errors = [i < error_in * n_in for i in range(n_in)] + [
        i < error_out * n_out for i in range(n_out)
    ]
    return pl.DataFrame({"session_id": [f"s{i}" for i in range(n_in + n_out)],
                         "geo.country.iso_code": country, "had_error": errors})  # fmt: skip


def _everyone(frame: pl.DataFrame, other_rate: float, other_n: int = 20_000) -> Candidate:
    rate = float(frame["had_error"].mean())  # type: ignore[arg-type]
    return Candidate("error_abandon", "signup", "/verify", "/welcome", "/welcome", {},
                     "error_rate", rate, other_rate, frame.height, other_n, rate - other_rate,
                     1e-30, q=1e-28)  # fmt: skip


def _us(frame: pl.DataFrame) -> Candidate:
    inside = frame.filter(pl.col("geo.country.iso_code") == "US")
    outside = frame.filter(pl.col("geo.country.iso_code") != "US")
    v, b = float(inside["had_error"].mean()), float(outside["had_error"].mean())  # type: ignore[arg-type]
    return Candidate("error_abandon", "signup", "/verify", "/welcome", "/welcome",
                     {"geo.country.iso_code": "US"}, "error_rate", v, b, inside.height,
                     outside.height, v - b, 1e-20, q=1e-18)  # fmt: skip


def test_everyone_errors_that_one_segment_causes_are_reported_for_the_segment() -> None:
    frame = _frame(error_in=0.4, error_out=0.02)
    everyone, us = _everyone(frame, other_rate=0.02), _us(frame)
    chosen = concentrated(everyone, [everyone, us], frame, alpha=0.01, min_effect=0.03)
    assert chosen.segment == {"geo.country.iso_code": "US"}


def test_errors_for_everyone_stay_everyones() -> None:
    frame = _frame(error_in=0.4, error_out=0.2)
    everyone, us = _everyone(frame, other_rate=0.02), _us(frame)
    assert concentrated(everyone, [everyone, us], frame, alpha=0.01, min_effect=0.03) is everyone
    # Without a rival segment there is nothing to prefer.
    assert concentrated(everyone, [everyone], frame, alpha=0.01, min_effect=0.03) is everyone


def test_a_dropoff_an_error_finding_explains_is_folded_into_it() -> None:
    frame = _frame(error_in=0.4, error_out=0.02)
    error = _us(frame)
    us = {"geo.country.iso_code": "US"}
    dropoff = Candidate("dropoff", "signup", "/verify", "/welcome", "/welcome", us,
                        "dropoff_rate", 0.35, 0.19, 400, 3600, 0.16, 1e-5, q=7e-3)  # fmt: skip
    elsewhere = Candidate("dropoff", "signup", "/welcome", "/done", "/done", us,
                          "dropoff_rate", 0.35, 0.19, 400, 3600, 0.16, 1e-5, q=7e-3)  # fmt: skip
    frames = {("/verify", "/welcome"): frame, ("/welcome", "/done"): frame}
    kept = fold_dropoffs([(error, {}), (dropoff, {}), (elsewhere, {})], frames)
    assert [c for c, _ in kept] == [error, elsewhere]  # another step's drop-off stays its own
    extra = kept[0][1]
    assert extra["folded_dropoff_rate"] == 0.35 and extra["folded_dropoff_baseline"] == 0.19
    assert extra["folded_dropoff_sessions"] == 400 and extra["folded_dropoff_q"] == 7e-3


def test_mean_tests_with_a_margin_test_the_relative_rise() -> None:
    # 1.05 attempts against 1.0 on many sessions: a real but trivial rise (under +10%).
    attempts = [1] * 1900 + [2] * 100 + [1] * 20_000
    segment = ["ios"] * 2000 + ["web"] * 20_000
    frame = pl.DataFrame({"attempts": attempts, "app.platform": segment})
    plain = {t.value: t.p for t in mean_tests(frame, "attempts", ["app.platform"], 30)}
    margin = {t.value: t.p for t in mean_tests(frame, "attempts", ["app.platform"], 30, 0.10)}
    assert plain["ios"] < 1e-6 and margin["ios"] > 0.5
    big = pl.DataFrame(
        {"attempts": [2] * 500 + [1] * 5000, "app.platform": ["ios"] * 500 + ["web"] * 5000}
    )
    tests = mean_tests(big, "attempts", ["app.platform"], 30, 0.10)
    assert next(t.p for t in tests if t.value == "ios") == pytest.approx(0.0)
