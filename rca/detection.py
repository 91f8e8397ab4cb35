"""Incident detection over per-minute aggregates (pure: frames and settings in, degradations out).

For every (service, route) series and signal (latency, error rate, throughput drop):

- each minute is judged on a **window** of the last ``k`` minutes, ``k`` chosen per series so the
  window holds about ``min_requests`` requests (1 minute on a busy route, up to
  ``max_window_minutes`` on a quiet one); all statistics are additive (counts, sums of log
  latency), so windows are exact, whatever the volume;
- the **baseline** is the same time of day on previous days when there are at least
  ``seasonal_min_days`` such days (daily seasonality), else the trailing ``baseline_minutes``
  (frozen when a run starts); minutes already judged anomalous never enter a baseline;
- a window is **anomalous** when a test statistic passes ``z_threshold`` *and* the shift is
  material: latency by the geometric mean (ratio >= ``latency_min_ratio``) or by the share of
  requests slower than the series' p90 (a tail that grows by ``tail_min_delta``); error rate by
  ``error_rate_min_delta``; throughput below ``throughput_max_ratio`` of its baseline;
- a **sustained** run of ``sustain_minutes`` anomalous minutes (one miss allowed) with at least
  ``min_affected_requests`` requests opens a degradation;
- the **onset** is estimated by change-point detection over the minutes around the run's start
  (`rca.engine` refines it on individual requests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from rca.changepoint import onset_index
from rca.config import RcaSettings
from rca.models import Degradation, Signal

MINUTE = timedelta(minutes=1)
DAY = 24 * 60
SEASONAL_HALF_WIDTH = 15  # minutes either side of the same time of day on previous days
MIN_LOG_SD = 0.1  # latency noise floor (log scale): a perfectly flat series is not infinitely sure
UNITS: dict[str, str] = {"latency_p95": "ms", "error_rate": "ratio", "throughput": "req/min"}
SIGNALS: tuple[Signal, ...] = ("error_rate", "latency_p95", "throughput")
_STATS = ("requests", "errors", "sum_log", "sum_log2", "slow")


@dataclass
class Series:
    """One (service, operation) on a dense minute grid; ``route`` is the operation's HTTP route."""

    service: str
    operation: str
    route: str
    start: datetime
    columns: dict[str, np.ndarray]

    @property
    def length(self) -> int:
        return len(self.columns["requests"])

    def minute(self, index: int) -> datetime:
        return self.start + index * MINUTE

    def index(self, ts: datetime) -> int:
        return int((ts - self.start) / MINUTE)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]


def build_series(frame: pl.DataFrame, start: datetime, end: datetime) -> list[Series]:
    """Dense per-minute arrays per (service, route) from the per-minute aggregate frame."""
    n = max(0, int((end - start) / MINUTE))
    out: list[Series] = []
    if frame.is_empty() or n == 0:
        return out
    for (service, operation), part in frame.group_by(["service", "operation"], maintain_order=True):
        minutes = part["minute"].cast(pl.Datetime("us")).dt.replace_time_zone(None)
        idx = ((minutes - start).dt.total_seconds() // 60).to_numpy()
        keep = (idx >= 0) & (idx < n)
        idx = idx[keep].astype(int)
        columns: dict[str, np.ndarray] = {}
        for name in (*_STATS, "p95_ms", "users", "sessions"):
            fill = np.nan if name == "p95_ms" else 0.0
            arr = np.full(n, fill, dtype=float)
            if name in part.columns:
                arr[idx] = part[name].cast(pl.Float64).fill_null(fill).to_numpy()[keep]
            columns[name] = arr
        route = str(part["route"][0]) if "route" in part.columns else str(operation)
        out.append(
            Series(
                service=str(service),
                operation=str(operation),
                route=route,
                start=start,
                columns=columns,
            )
        )
    return out


def _cum(x: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(x)])


@dataclass
class _Sums:
    """Pooled statistics of a set of minutes (one value per judged minute)."""

    n: np.ndarray
    e: np.ndarray
    sl: np.ndarray
    sl2: np.ndarray
    slow: np.ndarray
    minutes: np.ndarray
    seasonal: np.ndarray

    def at(self, i: int) -> _Sums:
        return _Sums(*(np.array([getattr(self, f)[i]]) for f in self.__dataclass_fields__))


def _window_sums(
    cums: dict[str, np.ndarray], lo: np.ndarray, hi: np.ndarray
) -> dict[str, np.ndarray]:
    lo = np.clip(lo, 0, None)
    hi = np.clip(hi, 0, None)
    return {k: c[hi] - c[np.minimum(lo, hi)] for k, c in cums.items()}


def _baselines(
    series: Series, t: np.ndarray, k: int, flagged: np.ndarray, cfg: RcaSettings
) -> _Sums:
    """Baseline sums for the windows ending at minutes ``t``."""
    usable = ~flagged
    cums = {name: _cum(series[name] * usable) for name in _STATS}
    cums["minutes"] = _cum(usable.astype(float))
    active_cum = _cum(((series["requests"] > 0) & usable).astype(float))
    trailing_hi = t - k + 1
    trailing = _window_sums(cums, trailing_hi - cfg.baseline_minutes, trailing_hi)
    pooled = {name: np.zeros(len(t)) for name in cums}
    days = np.zeros(len(t))
    if cfg.seasonal_days > 0:
        for d in range(1, cfg.seasonal_days + 1):
            centre = t - d * DAY
            lo, hi = centre - SEASONAL_HALF_WIDTH, centre + SEASONAL_HALF_WIDTH + 1
            ok = lo >= 0
            if not ok.any():
                break
            sums = _window_sums(cums, lo, hi)
            # A previous day counts when the route was served then (not merely when time passed).
            active = _window_sums({"a": active_cum}, lo, hi)["a"]
            has = ok & (active >= SEASONAL_HALF_WIDTH) & (sums["requests"] >= cfg.min_requests)
            for name in pooled:
                pooled[name] += np.where(has, sums[name], 0.0)
            days += has
    seasonal = (
        days >= max(cfg.seasonal_min_days, 1) if cfg.seasonal_days > 0 else np.zeros(len(t), bool)
    )
    pick = {name: np.where(seasonal, pooled[name], trailing[name]) for name in cums}
    return _Sums(
        n=pick["requests"], e=pick["errors"], sl=pick["sum_log"], sl2=pick["sum_log2"],
        slow=pick["slow"], minutes=pick["minutes"], seasonal=seasonal,
    )  # fmt: skip


def _current(series: Series, t: np.ndarray, k: int) -> dict[str, np.ndarray]:
    cums = {name: _cum(series[name]) for name in _STATS}
    return _window_sums(cums, t - k + 1, t + 1)


def _two_proportion_z(
    x1: np.ndarray, n1: np.ndarray, x0: np.ndarray, n0: np.ndarray, floor: float
) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = x1 / np.maximum(n1, 1)
        p0 = x0 / np.maximum(n0, 1)
        pooled = np.maximum((x1 + x0) / np.maximum(n1 + n0, 1), floor)
        se = np.sqrt(pooled * (1 - pooled) * (1 / np.maximum(n1, 1) + 1 / np.maximum(n0, 1)))
        return (p1 - p0) / se


def _judge(
    signal: Signal, cur: dict[str, np.ndarray], base: _Sums, k: int, cfg: RcaSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(eligible, anomalous, value, baseline value) for each judged window."""
    n_c, n_b = cur["requests"], base.n
    need = cfg.min_requests
    with np.errstate(divide="ignore", invalid="ignore"):
        if signal == "throughput":
            rate_b = n_b / np.maximum(base.minutes, 1)
            expected = rate_b * k
            eligible = (base.minutes >= max(5, cfg.baseline_minutes // 3)) & (
                rate_b >= cfg.throughput_min_baseline
            )
            z = (expected - n_c) / np.sqrt(np.maximum(expected, 1))
            anomalous = (
                eligible & (z >= cfg.z_threshold) & (n_c <= cfg.throughput_max_ratio * expected)
            )
            return eligible, anomalous, n_c / k, rate_b
        eligible = (n_c >= need) & (n_b >= 3 * need)
        if signal == "error_rate":
            p_c, p_b = cur["errors"] / np.maximum(n_c, 1), base.e / np.maximum(n_b, 1)
            z = _two_proportion_z(cur["errors"], n_c, base.e, n_b, 0.005)
            anomalous = eligible & (z >= cfg.z_threshold) & (p_c - p_b >= cfg.error_rate_min_delta)
            return eligible, anomalous, p_c, p_b
        m_c, m_b = cur["sum_log"] / np.maximum(n_c, 1), base.sl / np.maximum(n_b, 1)
        sd = np.sqrt(np.maximum(base.sl2 / np.maximum(n_b, 1) - m_b**2, MIN_LOG_SD**2))
        z_mean = (m_c - m_b) / (sd * np.sqrt(1 / np.maximum(n_c, 1) + 1 / np.maximum(n_b, 1)))
        shifted = (z_mean >= cfg.z_threshold) & (np.exp(m_c - m_b) >= cfg.latency_min_ratio)
        s_c, s_b = cur["slow"] / np.maximum(n_c, 1), base.slow / np.maximum(n_b, 1)
        z_tail = _two_proportion_z(cur["slow"], n_c, base.slow, n_b, 0.02)
        tail = (z_tail >= cfg.z_threshold) & (s_c - s_b >= cfg.tail_min_delta)
        return eligible, eligible & (shifted | tail), np.exp(m_c), np.exp(m_b)


def window_minutes(series: Series, cfg: RcaSettings) -> int:
    """Minutes per judged window: enough for ``min_requests`` at the series' typical rate."""
    seen = np.flatnonzero(series["requests"] > 0)
    if len(seen) == 0:
        return cfg.max_window_minutes
    # The rate while the route exists (history before its first request is not silence).
    rate = float(series["requests"].sum()) / max(series.length - int(seen[0]), 1)
    return int(min(max(math.ceil(cfg.min_requests / max(rate, 1e-9)), 1), cfg.max_window_minutes))


def detect_series(
    series: Series,
    signal: Signal,
    window_start: datetime,
    window_end: datetime,
    cfg: RcaSettings,
) -> list[Degradation]:
    """Sustained shifts of one signal of one series inside [window_start, window_end)."""
    k = window_minutes(series, cfg)
    first = max(0, series.index(window_start))
    last = min(series.length, series.index(window_end))
    if last <= first:
        return []
    flagged = np.zeros(series.length, dtype=bool)
    t_all = np.arange(series.length)
    cur_all = _current(series, t_all, k)
    found: list[Degradation] = []
    pos = first
    while pos < last:
        t = np.arange(pos, last)
        base = _baselines(series, t, k, flagged, cfg)
        cur = {name: v[pos:last] for name, v in cur_all.items()}
        eligible, anomalous, _, _ = _judge(signal, cur, base, k, cfg)
        hits = np.flatnonzero(anomalous)
        if len(hits) == 0:
            break
        t0 = pos + int(hits[0])
        # Judge what follows against the baseline as it stood when the run began (a trailing
        # baseline must not absorb the incident); a time-of-day baseline keeps following the day.
        seasonal = bool(base.seasonal[hits[0]])
        if seasonal:
            run_eligible, run_anomalous = eligible[hits[0] :], anomalous[hits[0] :]
            values, baselines = _judge(
                signal, {n: v[hits[0] :] for n, v in cur.items()}, base_slice(base, hits[0]), k, cfg
            )[2:]
        else:
            frozen = base.at(int(hits[0]))
            span = last - t0
            tiled = _Sums(
                *(np.repeat(getattr(frozen, f), span) for f in frozen.__dataclass_fields__)
            )
            run_cur = {name: v[t0:last] for name, v in cur_all.items()}
            run_eligible, run_anomalous, values, baselines = _judge(signal, run_cur, tiled, k, cfg)
        run: list[int] = []
        misses = 0
        for offset in range(len(run_anomalous)):
            if misses >= 2:
                break
            if not run_eligible[offset]:
                continue
            if run_anomalous[offset]:
                run.append(offset)
                misses = 0
            else:
                misses += 1
        minutes = [t0 + o for o in run]
        requests = int(series["requests"][minutes[0] : minutes[-1] + 1].sum())
        # Windows overlap: one bad minute taints k windows. A run must outlast its first window
        # by sustain_minutes - 1 so the shift is seen in that many minutes of fresh data.
        needed = cfg.sustain_minutes + k - 1
        if (
            len(run) < cfg.sustain_minutes
            or minutes[-1] - minutes[0] + 1 < needed
            or (signal != "throughput" and requests < cfg.min_affected_requests)
        ):
            pos = t0 + 1
            continue
        flagged[max(0, minutes[0] - k + 1) : minutes[-1] + 1] = True
        confirmed_end = next(m for m in minutes if m - minutes[0] + 1 >= needed)
        per_minute = _per_minute_values(series, signal)
        # The first anomalous window ends at minutes[0] and spans k minutes: the shift began
        # inside it (or just before); the change point picks the minute.
        onset = onset_index(
            per_minute, minutes[0], confirmed_end,
            lookback=min(30, cfg.baseline_minutes) + k, log_scale=signal == "latency_p95",
        )  # fmt: skip
        onset = max(onset, minutes[0] - k - 1)
        found.append(
            Degradation(
                service=series.service,
                route=series.route,
                operation=series.operation,
                signal=signal,
                onset=series.minute(onset),
                detected_at=series.minute(confirmed_end + 1),
                ended_at=series.minute(minutes[-1] + 1),
                baseline=round(float(np.median(baselines[run])), 6),
                value=round(float(np.median(values[run])), 6),
                unit=UNITS[signal],
                requests=requests,
                affected_users=int(series["users"][minutes[0] : minutes[-1] + 1].sum()),
                affected_sessions=int(series["sessions"][minutes[0] : minutes[-1] + 1].sum()),
                baseline_kind="seasonal" if seasonal else "trailing",
                window_minutes=k,
            )
        )
        pos = minutes[-1] + 1
    return found


def base_slice(base: _Sums, start: int) -> _Sums:
    """The baselines from position ``start`` on."""
    return _Sums(*(getattr(base, f)[start:] for f in base.__dataclass_fields__))


def _per_minute_values(series: Series, signal: Signal) -> np.ndarray:
    n = series["requests"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if signal == "error_rate":
            return np.where(n > 0, series["errors"] / np.maximum(n, 1), np.nan)
        if signal == "latency_p95":
            return np.where(n > 0, np.exp(series["sum_log"] / np.maximum(n, 1)), np.nan)
    return n.astype(float)


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
        for signal in SIGNALS:
            found.extend(detect_series(series, signal, window_start, window_end, cfg))
    return sorted(found, key=lambda d: (d.onset, d.service, d.operation, d.signal))


def group(degradations: list[Degradation], cfg: RcaSettings) -> list[list[Degradation]]:
    """Degradations that belong to one incident.

    Onsets within ``group_minutes`` of a group's first are one incident (one slow dependency
    slows every route that calls it; localization then names the origin). A later degradation
    of a service already in a group that is still degraded joins it too (a second route or a new
    error of the same broken deploy, noticed later on a quieter route).
    """
    groups: list[list[Degradation]] = []
    window = timedelta(minutes=cfg.group_minutes)
    for d in sorted(degradations, key=lambda d: d.onset):
        home = None
        # A quiet route's onset is only known to within its window.
        earliest = d.onset - timedelta(minutes=d.window_minutes)
        for g in groups:
            if earliest - g[0].onset <= window:
                home = g
                break
            if any(x.service == d.service for x in g) and d.onset <= _ongoing(g) + window:
                home = g
                break
        if home is not None:
            home.append(d)
        else:
            groups.append([d])
    return groups


def _ongoing(group_: list[Degradation]) -> datetime:
    """Until when a group is still degraded (a new error counts for half an hour after it
    appeared: its last event may be much later, long after anything else recovered)."""
    return max(
        (x.onset + timedelta(minutes=30))
        if x.signal == "new_error"
        else (x.ended_at or x.detected_at)
        for x in group_
    )


SIGNAL_PRIORITY = {
    "error_rate": 0,
    "new_error": 1,
    "latency_p95": 2,
    "throughput": 3,
    "declared": 4,
}


def primary(group_: list[Degradation]) -> Degradation:
    """The degradation that names the incident: the most requests affected, errors first."""
    return max(
        group_,
        key=lambda d: (d.requests, -SIGNAL_PRIORITY.get(d.signal, 9), -d.onset.timestamp()),
    )
