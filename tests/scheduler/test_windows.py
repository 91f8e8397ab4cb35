"""Pure window planning and schedule settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errors import ConfigError, InputError
from jobs.config import JobSchedule, format_duration, parse_duration
from jobs.windows import backoff_delay, floor_time, plan_window
from settings import load_settings

NOW = datetime(2026, 11, 21, 10, 17, 42)


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration(30) == timedelta(seconds=30)
    with pytest.raises(InputError, match="not a duration: 'soon'"):
        parse_duration("soon", "scheduler.jobs.x.every")


@given(st.integers(min_value=1, max_value=10**7))
def test_format_duration_round_trips(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from([60, 300, 3600, 86400]),
)
def test_floor_is_an_aligned_boundary_at_or_before(moment: datetime, seconds: int) -> None:
    period = timedelta(seconds=seconds)
    boundary = floor_time(moment, period)
    assert boundary <= moment < boundary + period
    assert (boundary - datetime(1970, 1, 1)) % period == timedelta(0)


def test_plan_first_run_settle_and_lookback() -> None:
    hourly = JobSchedule(every="1h", lookback="7d", settle="20m")
    plan = plan_window(hourly, NOW, None, timedelta(days=7))
    assert plan is not None and plan.trigger == "schedule"
    # 10:17 minus 20 minutes settle is 09:57: the last whole hour ends at 09:00.
    assert plan.window.end == datetime(2026, 11, 21, 9)
    assert plan.window.start == datetime(2026, 11, 14, 9)
    assert plan_window(hourly, NOW, plan.window.end, timedelta(days=7)) is None


def test_plan_incremental_gap() -> None:
    every5 = JobSchedule(every="5m")
    last = datetime(2026, 11, 21, 9, 0)
    plan = plan_window(every5, NOW, last, timedelta(days=7))
    assert plan is not None
    assert plan.window.start == last and plan.window.end == datetime(2026, 11, 21, 10, 15)
    assert plan.trigger == "catchup" and plan.missed_periods == 14


def test_backoff_doubles_up_to_the_cap() -> None:
    base, cap = timedelta(seconds=30), timedelta(minutes=5)
    assert [backoff_delay(a, base, cap).total_seconds() for a in range(1, 7)] == [
        30, 60, 120, 240, 300, 300,
    ]  # fmt: skip


def test_schedules_come_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "andon.toml").write_text(
        '[scheduler]\nmax_attempts = 5\n[scheduler.jobs.detect_incidents]\nevery = "1m"\n'
    )
    settings = load_settings()
    assert settings.scheduler.max_attempts == 5
    assert settings.scheduler.jobs["detect_incidents"].every == "1m"
    # Fields not given keep their defaults, and other jobs keep theirs.
    assert settings.scheduler.jobs["detect_incidents"].lookback == "2h"
    assert settings.scheduler.jobs["analyse_friction"].every == "1h"

    (tmp_path / "andon.toml").write_text('[scheduler.jobs.housekeeping]\nevery = "daily"\n')
    with pytest.raises(ConfigError, match=r"scheduler\.jobs\.housekeeping\.every.*not a duration"):
        load_settings()
