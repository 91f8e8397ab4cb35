"""Durations and the ``[scheduler]`` settings: when each job runs and what it covers.

Every job has a schedule from settings (``[scheduler.jobs.<name>]``: ``every``, ``lookback``,
``settle``); `SchedulerSettings` adds retries, misfire grace, catch-up and start delay.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from errors import InputError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float, field: str = "duration") -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"7d"``, ``"2w"`` or a number of seconds -> timedelta."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise InputError(
                f"not a duration: {text!r} (use a number and a unit: 90s, 5m, 1h, 7d)", field=field
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0:
        raise InputError(f"a duration cannot be negative: {text!r}", field=field)
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact form: 3600 s -> '1h', 90 s -> '90s'."""
    seconds = delta.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# -- settings ---------------------------------------------------------------------------------


class JobSchedule(BaseModel):
    """``[scheduler.jobs.<name>]``: when one job runs and which data window it covers."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Run this job on its schedule.")
    every: str = Field(
        description="How often, aligned to UTC boundaries: '1m', '5m', '1h', '1d'. A run covers "
        "data up to the last boundary."
    )
    lookback: str | None = Field(
        default=None,
        description="Window length ending at the boundary (e.g. '7d' for the friction analysis). "
        "Unset: the job is incremental and covers everything since its last successful run.",
    )
    settle: str = Field(
        default="0s",
        description="Wait this long after a boundary before covering it, so late telemetry lands.",
    )

    @field_validator("every", "lookback", "settle")
    @classmethod
    def _valid_duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except InputError as exc:
                raise ValueError(exc.reason) from exc
        return value

    @field_validator("every")
    @classmethod
    def _positive_period(cls, value: str) -> str:
        if parse_duration(value).total_seconds() < 1:
            raise ValueError("'every' must be at least 1s")
        return value

    @property
    def period(self) -> timedelta:
        return parse_duration(self.every, "every")

    @property
    def window_length(self) -> timedelta | None:
        return parse_duration(self.lookback, "lookback") if self.lookback else None

    @property
    def settle_delay(self) -> timedelta:
        return parse_duration(self.settle, "settle")


def _default_jobs() -> dict[str, JobSchedule]:
    return {
        "detect_incidents": JobSchedule(every="2m", lookback="2h", settle="30s"),
        "analyse_friction": JobSchedule(every="1h", lookback="7d", settle="2m"),
        "pull_support_desk": JobSchedule(every="10m"),
        "export_tickets": JobSchedule(every="5m"),
        "housekeeping": JobSchedule(every="1d", settle="10m"),
    }


class SchedulerSettings(BaseModel):
    """``[scheduler]`` in andon.toml, ``ANDON_SCHEDULER__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Run scheduled jobs inside `andon serve`.")
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="Tries per run before it is recorded as failed."
    )
    retry_backoff: str = Field(
        default="30s", description="Wait before the first retry; doubles on each further retry."
    )
    retry_backoff_max: str = Field(default="10m", description="Longest wait between retries.")
    misfire_grace: str = Field(
        default="5m",
        description="A run that could not start on time still starts if it is at most this late; "
        "later ones are coalesced into the next run.",
    )
    max_catchup: str = Field(
        default="7d",
        description="After downtime an incremental job catches up in one run covering at most "
        "this much (older data is left to a manual run).",
    )
    workers: int = Field(default=2, ge=1, le=16, description="Jobs that may run at the same time.")
    start_delay: str = Field(
        default="1m",
        description="After `andon serve` starts, wait this long before any job runs (catch-up "
        "runs included), so the receivers are up and a restart does not load the warehouse at "
        "once.",
    )
    jobs: dict[str, JobSchedule] = Field(
        default_factory=_default_jobs,
        description="Schedule per job: detect_incidents, analyse_friction, pull_support_desk, "
        "export_tickets, housekeeping.",
    )

    @field_validator(
        "retry_backoff", "retry_backoff_max", "misfire_grace", "max_catchup", "start_delay"
    )
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        try:
            parse_duration(value)
        except InputError as exc:
            raise ValueError(exc.reason) from exc
        return value

    @field_validator("jobs", mode="before")
    @classmethod
    def _merge_defaults(cls, value: Any) -> Any:
        # A file that changes one job keeps the defaults of the others.
        if isinstance(value, dict):
            merged: dict[str, Any] = {k: v.model_dump() for k, v in _default_jobs().items()}
            for name, schedule in value.items():
                if isinstance(schedule, dict) and name in merged:
                    merged[name] = {**merged[name], **schedule}
                else:
                    merged[name] = schedule
            return merged
        return value
