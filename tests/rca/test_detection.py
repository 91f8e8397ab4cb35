"""Detection on frames built in the test: baselines, thresholds, sustain, onset, grouping."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from rca import detection
from rca.changepoint import mean_shift_split, onset_index
from rca.config import RcaSettings

START = datetime(2026, 3, 2, 0, 0)


def frame(
    minutes: int,
    p95: np.ndarray,
    requests: np.ndarray | int = 40,
    errors: np.ndarray | int = 0,
    service: str = "pricing",
    route: str = "/quote",
    start: datetime = START,
    seed: int = 0,
) -> pl.DataFrame:
    """Per-minute aggregates as `rca.queries.minute_aggregates` returns them, from requests drawn
    per minute around the given typical latency (lognormal, sigma 0.3)."""
    rng = np.random.default_rng(seed)
    req = np.broadcast_to(np.asarray(requests), (minutes,)).astype(int)
    err = np.broadcast_to(np.asarray(errors), (minutes,)).astype(int)
    samples = [np.asarray(p95[i]) * rng.lognormal(0, 0.3, req[i]) for i in range(minutes)]
    everything = np.concatenate([x for x in samples if len(x)]) if req.sum() else np.array([1.0])
    p90 = float(np.quantile(everything, 0.9))
    return pl.DataFrame(
        {
            "service": [service] * minutes,
            "operation": [f"GET {route}"] * minutes,
            "route": [route] * minutes,
            "minute": [start + timedelta(minutes=i) for i in range(minutes)],
            "requests": req.astype(np.int64),
            "errors": np.minimum(err, req).astype(np.int64),
            "p95_ms": [float(np.quantile(x, 0.95)) if len(x) else None for x in samples],
            "sum_log": [float(np.log(x).sum()) for x in samples],
            "sum_log2": [float((np.log(x) ** 2).sum()) for x in samples],
            "slow": [int((x > p90).sum()) for x in samples],
            "users": (req // 2).astype(np.int64),
            "sessions": (req // 2).astype(np.int64),
        }
    )


def noisy(n: int, level: float, seed: int = 1, sigma: float = 0.08) -> np.ndarray:
    return level * np.random.default_rng(seed).lognormal(0, sigma, n)


def test_sustained_latency_shift_opens_one_degradation_with_onset() -> None:
    p95 = noisy(120, 40.0)
    p95[83:] *= 4
    found = detection.detect(
        frame(120, p95), START, START, START + timedelta(minutes=120), RcaSettings()
    )
    assert len(found) == 1
    d = found[0]
    assert (d.service, d.route, d.signal) == ("pricing", "/quote", "latency_p95")
    assert d.onset == START + timedelta(minutes=83)
    assert d.baseline == pytest_approx(40.0, 0.15)
    assert d.value > 120


def pytest_approx(value: float, rel: float) -> object:
    import pytest

    return pytest.approx(value, rel=rel)


def test_short_spike_and_low_volume_do_not_open_incidents() -> None:
    p95 = noisy(120, 40.0)
    p95[70:73] *= 6  # three minutes: not sustained
    found = detection.detect(
        frame(120, p95), START, START, START + timedelta(minutes=120), RcaSettings()
    )
    assert found == []
    rare = noisy(120, 40.0)
    rare[60:] *= 6  # degraded, but on a route too rare to judge even over 10-minute windows
    found = detection.detect(
        frame(120, rare, requests=np.arange(120) % 3 == 0),
        START,
        START,
        START + timedelta(minutes=120),
        RcaSettings(),
    )
    assert found == []


def test_quiet_route_is_judged_over_longer_windows() -> None:
    quiet = noisy(150, 40.0)
    quiet[100:] *= 4
    [d] = detection.detect(
        frame(150, quiet, requests=2), START, START, START + timedelta(minutes=150), RcaSettings()
    )
    assert d.window_minutes == 3  # 5 requests at 2 per minute
    assert abs((d.onset - (START + timedelta(minutes=100))).total_seconds()) <= 120


def test_clean_noisy_series_stays_quiet_across_seeds() -> None:
    for seed in range(20):
        p95 = noisy(240, 50.0, seed=seed, sigma=0.2)
        errors = np.random.default_rng(seed).binomial(40, 0.01, 240)
        found = detection.detect(
            frame(240, p95, 40, errors), START, START, START + timedelta(minutes=240), RcaSettings()
        )
        assert found == [], (seed, found)


def test_error_rate_rise_is_detected_with_its_onset() -> None:
    rng = np.random.default_rng(3)
    errors = rng.binomial(50, 0.005, 150)
    errors[97:] = rng.binomial(50, 0.3, 53)
    found = detection.detect(
        frame(150, noisy(150, 30.0), 50, errors),
        START,
        START,
        START + timedelta(minutes=150),
        RcaSettings(),
    )
    assert [d.signal for d in found] == ["error_rate"]
    assert abs((found[0].onset - (START + timedelta(minutes=97))).total_seconds()) <= 60


def test_throughput_drop_on_busy_route() -> None:
    rng = np.random.default_rng(4)
    requests = rng.poisson(80, 150)
    requests[110:] = rng.poisson(10, 40)
    found = detection.detect(
        frame(150, noisy(150, 30.0), requests),
        START,
        START,
        START + timedelta(minutes=150),
        RcaSettings(),
    )
    assert [d.signal for d in found] == ["throughput"]
    assert found[0].onset == START + timedelta(minutes=110)


def test_daily_seasonality_is_not_an_incident_but_a_shift_against_it_is() -> None:
    days = 3
    minutes = days * 1440
    t = np.arange(minutes)
    # Every day at 12:00 latency doubles for two hours (a batch job): normal for this service.
    daily = np.where((t % 1440 >= 720) & (t % 1440 < 840), 2.0, 1.0)
    p95 = noisy(minutes, 40.0, sigma=0.05) * daily
    window = (START + timedelta(days=2, hours=11), START + timedelta(days=2, hours=15))
    cfg = RcaSettings()
    assert detection.detect(frame(minutes, p95), START, *window, cfg) == []
    # Without the seasonal history the same data would look like an incident.
    trailing = RcaSettings(seasonal_days=0)
    assert detection.detect(frame(minutes, p95), START, *window, trailing)
    # A real shift at 14:00 on the third day stands out against the seasonal baseline.
    shifted = p95.copy()
    shifted[2 * 1440 + 840 - 30 :] *= 3
    found = detection.detect(frame(minutes, shifted), START, *window, cfg)
    assert len(found) == 1
    assert found[0].baseline_kind == "seasonal"
    assert found[0].onset == START + timedelta(days=2, minutes=810)


def test_related_routes_degrading_together_are_grouped() -> None:
    p95a = noisy(120, 40.0, seed=1)
    p95b = noisy(120, 90.0, seed=2)
    p95c = noisy(120, 70.0, seed=3)
    p95a[80:] *= 5
    p95b[81:] *= 3
    p95c[20:] *= 1.0
    combined = pl.concat(
        [
            frame(120, p95a, route="/quote"),
            frame(120, p95b, service="api", route="/checkout"),
            frame(120, p95c, service="api", route="/cart"),
        ]
    )
    found = detection.detect(combined, START, START, START + timedelta(minutes=120), RcaSettings())
    groups = detection.group(found, RcaSettings())
    assert len(groups) == 1
    assert {(d.service, d.route) for d in groups[0]} == {
        ("pricing", "/quote"),
        ("api", "/checkout"),
    }


def test_separate_incidents_far_apart_are_not_grouped() -> None:
    p95 = noisy(240, 40.0)
    p95[60:90] *= 5
    p95[180:] *= 5
    found = detection.detect(
        frame(240, p95), START, START, START + timedelta(minutes=240), RcaSettings()
    )
    assert len(found) == 2
    assert len(detection.group(found, RcaSettings())) == 2


def test_mean_shift_split_finds_the_step() -> None:
    values = np.array([1.0] * 20 + [5.0] * 10)
    assert mean_shift_split(values) == 20
    values[[3, 7]] = np.nan
    assert mean_shift_split(values) == 20
    assert onset_index(values, run_start=22, confirmed_end=26) == 20
    assert mean_shift_split(np.array([1.0, 2.0])) is None
