"""Time and data windows, pure: which window a scheduled run covers, and retry waits.

`plan_window` decides which window a scheduled run covers, given the clock and the end of the
last successful scheduled run. Boundaries are aligned to the epoch (an hourly job covers whole
UTC hours), so a re-run of the same window gives the same result. After downtime the missed
periods are *coalesced* into one catch-up run instead of one run per missed period.
The clock is injectable, so tests step through time without sleeping.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from jobs.config import JobSchedule

EPOCH = datetime(1970, 1, 1)

RunTrigger = Literal["schedule", "catchup", "manual", "rerun"]


class Clock(Protocol):
    """What the runner needs of time: the current UTC time (naive) and a way to wait."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> bool:
        """Wait; False when interrupted by shutdown (the caller stops retrying)."""
        ...


class SystemClock:
    """Wall-clock time; `sleep` returns early (False) once `interrupt` is called."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def sleep(self, seconds: float) -> bool:
        return not self._stop.wait(max(0.0, seconds))

    def interrupt(self) -> None:
        self._stop.set()

    def resume(self) -> None:
        """Allow waiting again (a scheduler started again after a stop)."""
        self._stop.clear()


@dataclass(frozen=True)
class Window:
    """A data window ``[start, end)`` in naive UTC."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M:%S} to {self.end:%Y-%m-%d %H:%M:%S} UTC"


def floor_time(moment: datetime, period: timedelta) -> datetime:
    """The last boundary at or before ``moment``, boundaries aligned to the Unix epoch."""
    steps = (moment - EPOCH) // period
    return EPOCH + steps * period


@dataclass(frozen=True)
class PlannedRun:
    """What a scheduled firing should cover, and whether it is a coalesced catch-up."""

    window: Window
    trigger: RunTrigger
    missed_periods: int


def plan_window(
    schedule: JobSchedule, now: datetime, last_end: datetime | None, max_catchup: timedelta
) -> PlannedRun | None:
    """The window a scheduled run covers now, or None when that window is already done.

    ``last_end`` is the end of the last successful scheduled run. Several missed periods become
    one run: an incremental job covers the whole gap (at most ``max_catchup``), a lookback job
    covers its lookback ending at the latest boundary.
    """
    period = schedule.period
    end = floor_time(now - schedule.settle_delay, period)
    if last_end is not None and last_end >= end:
        return None
    lookback = schedule.window_length
    if lookback is not None:
        start = end - lookback
        missed = 0 if last_end is None else max(0, (end - last_end) // period - 1)
    else:
        start = last_end if last_end is not None else end - period
        start = max(start, end - max_catchup)
        missed = max(0, (end - start) // period - 1)
    trigger: RunTrigger = "catchup" if missed > 0 else "schedule"
    return PlannedRun(Window(start, end), trigger, int(missed))


def backoff_delay(attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """Wait after failed attempt ``attempt`` (1-based): base, 2*base, 4*base ... at most cap."""
    return min(cap, base * (2 ** (attempt - 1)))


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as naive UTC (an aware time is converted; a naive one is UTC already)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
