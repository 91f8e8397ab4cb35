"""Incident detection over per-minute aggregates (pure: frames and settings in, degradations out).

For every (service, route) series and signal (p95 latency, error rate, throughput drop):

- the **baseline** of a minute is the same time of day on previous days when there are enough
  complete days of history (daily seasonality), else the trailing ``baseline_minutes``;
  minutes already judged anomalous never enter a baseline;
- a minute is **anomalous** when it is beyond a robust threshold (median +/- z * 1.4826 MAD, with
  a floor from the counting noise) *and* the shift is material (latency ratio, error-rate delta,
  throughput fraction); minutes with too few requests are not judged;
- a **sustained** run of ``sustain_minutes`` anomalous minutes (one miss allowed, frozen
  baseline) with at least ``min_affected_requests`` requests opens a degradation;
- the **onset** is estimated by change-point detection around the run's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from rca.changepoint import onset_index
from rca.config import RcaSettings
from rca.models import Degradation, Signal

MINUTE = timedelta(minutes=1)
SEASONAL_HALF_WIDTH = 15  # minutes either side of the same time of day on previous days

SERIES_COLUMNS = ("service", "route", "minute", "requests", "errors", "p95_ms")


@dataclass
class _Baseline:
    median: float
    scale: float
    kind: str


@dataclass
class Series:
    """One (service, route) on a dense minute grid."""

    service: str
    route: str
    start: datetime
    requests: np.ndarray
    errors: np.ndarray
    p95_ms: np.ndarray
    users: np.ndarray
    sessions: np.ndarray

    def minute(self, index: int) -> datetime:
        return self.start + index * MINUTE

    def index(self, ts: datetime) -> int:
        return int((ts - self.start) / MINUTE)

    def values(self, signal: Signal) -> np.ndarray:
        if signal == "latency_p95":
            return self.p95_ms
        if signal == "error_rate":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(
                    self.requests > 0, self.errors / np.maximum(self.requests, 1), np.nan
                )
        return self.requests.astype(float)


def build_series(frame: pl.DataFrame, start: datetime, end: datetime) -> list[Series]:
    """Dense per-minute arrays per (service, route) from the per-minute aggregate frame."""
    n = max(0, int((end - start) / MINUTE))
    out: list[Series] = []
    if frame.is_empty() or n == 0:
        return out
    for (service, route), part in frame.group_by(["service", "route"], maintain_order=True):
        idx = ((part["minute"].cast(pl.Datetime("us")) - start).dt.total_seconds() // 60).to_numpy()
        keep = (idx >= 0) & (idx < n)
        idx = idx[keep].astype(int)

        def dense(
            column: str,
            fill: float,
            keep: np.ndarray = keep,
            idx: np.ndarray = idx,
            part: pl.DataFrame = part,
        ) -> np.ndarray:
            arr = np.full(n, fill, dtype=float)
            arr[idx] = part[column].to_numpy().astype(float)[keep]
            return arr

        out.append(
            Series(
                service=str(service),
                route=str(route),
                start=start,
                requests=dense("requests", 0.0),
                errors=dense("errors", 0.0),
                p95_ms=dense("p95_ms", np.nan),
                users=dense("users", 0.0) if "users" in part.columns else np.zeros(n),
                sessions=dense("sessions", 0.0) if "sessions" in part.columns else np.zeros(n),
            )
        )
    return out


def _robust(values: np.ndarray) -> tuple[float, float]:
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    return median, 1.4826 * mad


def _baseline(
    series: Series,
    signal: Signal,
    values: np.ndarray,
    eligible: np.ndarray,
    flagged: np.ndarray,
    t: int,
    cfg: RcaSettings,
) -> _Baseline | None:
    usable = eligible & ~flagged
    day = 24 * 60
    if cfg.seasonal_days > 0:
        pooled: list[np.ndarray] = []
        for k in range(1, cfg.seasonal_days + 1):
            centre = t - k * day
            lo, hi = centre - SEASONAL_HALF_WIDTH, centre + SEASONAL_HALF_WIDTH + 1
            if lo < 0:
                break
            window = values[lo:hi][usable[lo:hi]]
            if len(window) >= SEASONAL_HALF_WIDTH:
                pooled.append(window)
        if len(pooled) >= cfg.seasonal_min_days:
            median, scale = _robust(np.concatenate(pooled))
            return _Baseline(median, _floor(signal, median, scale, series, t), "seasonal")
    lo = max(0, t - cfg.baseline_minutes)
    window = values[lo:t][usable[lo:t]]
    if len(window) < max(5, cfg.baseline_minutes // 3):
        return None
    median, scale = _robust(window)
    return _Baseline(median, _floor(signal, median, scale, series, t), "trailing")


def _floor(signal: Signal, median: float, scale: float, series: Series, t: int) -> float:
    """A scale never below what counting noise alone produces (MAD of a flat series is 0)."""
    if signal == "latency_p95":
        return max(scale, 0.05 * median, 1.0)
    if signal == "error_rate":
        p = max(median, 0.01)
        n = max(series.requests[t], 1.0)
        return max(scale, float(np.sqrt(p * (1 - p) / n)))
    return max(scale, float(np.sqrt(max(median, 1.0))))


def _anomalous(signal: Signal, x: float, base: _Baseline, cfg: RcaSettings) -> bool:
    if np.isnan(x):
        return False
    if signal == "latency_p95":
        return (
            x > base.median + cfg.z_threshold * base.scale
            and x >= cfg.latency_min_ratio * base.median
        )
    if signal == "error_rate":
        return (
            x > base.median + cfg.z_threshold * base.scale
            and x - base.median >= cfg.error_rate_min_delta
        )
    return (
        base.median >= cfg.throughput_min_baseline
        and x < base.median - cfg.z_threshold * base.scale
        and x <= cfg.throughput_max_ratio * base.median
    )


def _eligible(series: Series, signal: Signal, cfg: RcaSettings) -> np.ndarray:
    if signal == "throughput":
        return np.ones(len(series.requests), dtype=bool)
    return series.requests >= cfg.min_requests_per_minute


UNITS: dict[str, str] = {"latency_p95": "ms", "error_rate": "ratio", "throughput": "req/min"}


def detect_series(
    series: Series,
    signal: Signal,
    window_start: datetime,
    window_end: datetime,
    cfg: RcaSettings,
) -> list[Degradation]:
    """Sustained shifts of one signal of one series inside [window_start, window_end)."""
    values = series.values(signal)
    eligible = _eligible(series, signal, cfg)
    flagged = np.zeros(len(values), dtype=bool)
    first = max(0, series.index(window_start))
    last = min(len(values), series.index(window_end))
    found: list[Degradation] = []
    t = first
    while t < last:
        if not eligible[t]:
            t += 1
            continue
        base = _baseline(series, signal, values, eligible, flagged, t, cfg)
        if base is None or not _anomalous(signal, values[t], base, cfg):
            t += 1
            continue
        # A candidate run: judge the following minutes against the frozen baseline.
        run = [t]
        misses = 0
        u = t + 1
        while u < last and misses < 2:
            if eligible[u]:
                # A time-of-day baseline comes from other days, so it follows the daily curve
                # through the run; a trailing one stays frozen at the run's start.
                ref = base
                if base.kind == "seasonal":
                    ref = _baseline(series, signal, values, eligible, flagged, u, cfg) or base
                if _anomalous(signal, values[u], ref, cfg):
                    run.append(u)
                    misses = 0
                else:
                    misses += 1
            u += 1
        requests = int(series.requests[run].sum())
        if len(run) < cfg.sustain_minutes or (
            signal != "throughput" and requests < cfg.min_affected_requests
        ):
            t += 1
            continue
        flagged[run[0] : run[-1] + 1] = True
        confirmed_end = run[cfg.sustain_minutes - 1]
        onset = onset_index(
            np.where(eligible, values, np.nan),
            run[0],
            confirmed_end,
            lookback=min(30, cfg.baseline_minutes),
            log_scale=signal == "latency_p95",
        )
        found.append(
            Degradation(
                service=series.service,
                route=series.route,
                signal=signal,
                onset=series.minute(onset),
                detected_at=series.minute(confirmed_end + 1),
                baseline=round(base.median, 6),
                value=round(float(np.nanmedian(values[run])), 6),
                unit=UNITS[signal],
                requests=requests,
                affected_users=int(series.users[run].sum()),
                affected_sessions=int(series.sessions[run].sum()),
                baseline_kind="seasonal" if base.kind == "seasonal" else "trailing",
            )
        )
        t = run[-1] + 1
    return found


def detect(
    frame: pl.DataFrame,
    history_start: datetime,
    window_start: datetime,
    window_end: datetime,
    cfg: RcaSettings,
) -> list[Degradation]:
    """Every sustained degradation in the window, over all series and signals, by onset."""
    found: list[Degradation] = []
    for series in build_series(frame, history_start, window_end):
        for signal in ("error_rate", "latency_p95", "throughput"):
            found.extend(detect_series(series, signal, window_start, window_end, cfg))
    return sorted(found, key=lambda d: (d.onset, d.service, d.route, d.signal))


def group(degradations: list[Degradation], cfg: RcaSettings) -> list[list[Degradation]]:
    """Degradations whose onsets fall within ``group_minutes`` of a group's first are one incident.

    Routes that degrade together share a cause far more often than not (one slow dependency
    slows every route that calls it); localization then names the one origin.
    """
    groups: list[list[Degradation]] = []
    window = timedelta(minutes=cfg.group_minutes)
    for d in sorted(degradations, key=lambda d: d.onset):
        if groups and d.onset - groups[-1][0].onset <= window:
            groups[-1].append(d)
        else:
            groups.append([d])
    return groups


SIGNAL_PRIORITY = {"error_rate": 0, "new_error": 1, "latency_p95": 2, "throughput": 3}


def primary(group_: list[Degradation]) -> Degradation:
    """The degradation that names the incident: the most requests affected, errors first."""
    return max(
        group_,
        key=lambda d: (d.requests, -SIGNAL_PRIORITY.get(d.signal, 9), -d.onset.timestamp()),
    )
